"""One-person pose tracking, as MediaPipe's PoseLandmarkCpu graph (mp.solutions.pose,
model_complexity=1): detect a person only when no pose is being tracked, then follow it from frame
to frame with the ROI its own landmarks give."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from rtnet import _core
from rtnet.models import Precision, build_landmark_model
from rtnet.tracking import config as cfg
from rtnet.tracking.detection import Detector, Model, crop_input
from rtnet.tracking.roi import (
    Rect,
    project_landmarks,
    roi_from_points,
    rotate_world,
)


@dataclass(frozen=True)
class PoseResult:
    """One tracked person in one frame.

    ``landmarks`` (33, 5) float32: x, y normalised to the frame's width and height, z in
    MediaPipe's scale (relative depth, normalised like x), visibility, presence (sigmoids).
    ``world_landmarks`` (33, 3) float32: metres, origin between the hips. ``score``: the pose
    flag. ``roi``: the crop (frame pixels) the landmarks were predicted in.
    """

    score: float
    landmarks: npt.NDArray[np.float32]
    world_landmarks: npt.NDArray[np.float32]
    roi: Rect


def sigmoid(x: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def refine_from_heatmap(
    landmarks: npt.NDArray[np.float64],
    heatmap: npt.NDArray[np.float32],
    kernel_size: int = cfg.POSE_HEATMAP_KERNEL,
    min_confidence: float = cfg.POSE_HEATMAP_MIN_CONFIDENCE,
) -> npt.NDArray[np.float64]:
    """RefineLandmarksFromHeatmapCalculator: each landmark's x, y (normalised to the crop) become
    the sigmoid-weighted mean position over a kernel of its heatmap channel around it, where the
    heatmap is confident (max >= ``min_confidence``). heatmap: (H, W, N) raw logits."""
    out = landmarks.copy()
    rows, cols, _ = heatmap.shape
    offset = (kernel_size - 1) // 2
    for i in range(landmarks.shape[0]):
        col = int(landmarks[i, 0] * cols)  # truncation toward zero, as the C++ cast
        row = int(landmarks[i, 1] * rows)
        # MediaPipe checks the column against the height (not the row): kept for equivalence;
        # an out-of-range row then only shrinks or empties the window.
        if col < 0 or col >= cols or row < 0 or col >= rows:
            continue
        r0, r1 = max(0, row - offset), min(rows, row + offset + 1)
        c0, c1 = max(0, col - offset), min(cols, col + offset + 1)
        window = sigmoid(heatmap[r0:r1, c0:c1, i])
        total = float(window.sum())
        if window.size == 0 or total <= 0.0 or float(window.max()) < min_confidence:
            continue
        rr, cc = np.mgrid[r0:r1, c0:c1]
        out[i, 0] = float((cc * window).sum()) / cols / total
        out[i, 1] = float((rr * window).sum()) / rows / total
    return out


class LowPass:
    """VisibilitySmoothingCalculator's low-pass filter: the first value passes, then EMA."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.value: npt.NDArray[np.float64] | None = None

    def apply(self, value: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if self.value is None or self.value.shape != value.shape:
            self.value = value.copy()
        else:
            self.value = self.alpha * value + (1.0 - self.alpha) * self.value
        return self.value

    def reset(self) -> None:
        self.value = None


def one_euro(options: cfg.OneEuro) -> _core.LandmarkSmoother:
    return _core.LandmarkSmoother(
        options.min_cutoff,
        options.beta,
        options.derivate_cutoff,
        disable_value_scaling=options.disable_value_scaling,
    )


class PoseTracker:
    """Track one person's 33 pose landmarks through a stream of BGR frames.

    ``detector`` and ``landmarks`` default to rtnet's ports of MediaPipe's pose_detection and
    pose_landmark_full networks (built at ``precision``; fp32 is what matches MediaPipe); any
    callable with the same tensors in and out will do.
    ``smooth`` filters landmarks over time as MediaPipe's smooth_landmarks: one-euro filters on
    the coordinates, which start afresh whenever tracking is lost, and a low-pass filter on the
    visibilities (and one-euro on the world landmarks), which carry on across a loss as
    MediaPipe's do. ``reset`` clears everything.
    """

    def __init__(
        self,
        *,
        detector: Model | None = None,
        landmarks: Model | None = None,
        precision: Precision = "fp32",
        min_detection_confidence: float = cfg.MIN_DETECTION_CONFIDENCE,
        min_tracking_confidence: float = cfg.MIN_TRACKING_CONFIDENCE,
        smooth: bool = True,
    ) -> None:
        detector = (
            detector
            if detector is not None
            else build_landmark_model("pose_detector", precision=precision)
        )
        landmarks = (
            landmarks
            if landmarks is not None
            else build_landmark_model("pose_landmarks", precision=precision)
        )
        self.detector = Detector(cfg.POSE_DETECTOR, detector, min_detection_confidence)
        self.landmark_model = landmarks
        self.min_tracking_confidence = min_tracking_confidence
        self.smooth = smooth
        self._roi: Rect | None = None
        self._visibility = LowPass(cfg.VISIBILITY_ALPHA)
        self._aux_visibility = LowPass(cfg.VISIBILITY_ALPHA)
        self._landmarks = one_euro(cfg.POSE_SMOOTHING)
        self._aux = one_euro(cfg.POSE_AUX_SMOOTHING)
        self._world = one_euro(cfg.POSE_WORLD_SMOOTHING)
        self.detections_run = 0  # how many frames needed the detector (for tests and stats)

    def reset(self) -> None:
        """Forget the tracked person and all filter state: the next frame runs the detector."""
        self._lost()
        for f in (self._visibility, self._aux_visibility, self._world):
            f.reset()

    def _lost(self) -> None:
        # As MediaPipe: its landmark filters also see the frame size, so they run (and reset) on
        # a frame without a pose; the visibility and world-landmark filters see only their
        # landmarks, so they do not run then and carry their state to the next pose.
        self._roi = None
        self._landmarks.reset()
        self._aux.reset()

    def process(self, frame_bgr: npt.NDArray[np.uint8], timestamp_s: float) -> PoseResult | None:
        """The person in this frame (None if there is none); ``timestamp_s`` must increase."""
        height, width = frame_bgr.shape[:2]
        roi = self._roi
        if roi is None:
            self.detections_run += 1
            found = self.detector(frame_bgr)
            if len(found) == 0:
                self._lost()
                return None
            roi = roi_from_points(found.keypoints[0], cfg.POSE_ROI_FROM_DETECTION)
        size = cfg.POSE_LANDMARK_INPUT
        # ImageToTensorCalculator defaults: BORDER_REPLICATE; the square ROI needs no letterbox.
        x = crop_input(frame_bgr, roi, size, (0.0, 1.0), "replicate")
        with torch.no_grad():
            outputs = self.landmark_model(x)
        raw, flag, _segmentation, heatmap, raw_world = (o.numpy() for o in outputs[:5])
        score = float(flag.reshape(-1)[0])
        if not score >= self.min_tracking_confidence:
            self._lost()
            return None

        n = cfg.POSE_MODEL_LANDMARKS
        values = raw.reshape(n, 5).astype(np.float64)
        crop = values[:, :3] / size  # TensorsToLandmarks: x, y, z normalised by the input width
        crop = refine_from_heatmap(crop, heatmap.reshape(heatmap.shape[-3:]))
        visibility = sigmoid(values[:, 3:5])  # visibility, presence
        frame_px = project_landmarks(crop, roi)  # x, y, z in pixels (z scaled as x)

        main, aux = slice(0, cfg.POSE_LANDMARKS), slice(*cfg.POSE_AUX)
        pts = np.concatenate([frame_px[main], visibility[main]], axis=1)
        aux_pts = np.concatenate([frame_px[aux], visibility[aux]], axis=1)
        world = rotate_world(raw_world.reshape(n, 3)[main], roi.rotation)
        if self.smooth:
            pts[:, 3:] = self._visibility.apply(pts[:, 3:])
            pts = self._landmarks.apply(pts, timestamp_s).astype(np.float64)
            aux_pts[:, 3:] = self._aux_visibility.apply(aux_pts[:, 3:])
            aux_pts = self._aux.apply(aux_pts, timestamp_s).astype(np.float64)
            world = self._world.apply(world, timestamp_s).astype(np.float64)
        self._roi = roi_from_points(aux_pts[:, :2], cfg.POSE_ROI_FROM_LANDMARKS)

        out = pts.astype(np.float32)
        out[:, 0] /= width
        out[:, 1] /= height
        out[:, 2] /= width
        return PoseResult(score, out, world.astype(np.float32), roi)
