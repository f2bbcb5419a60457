"""Hand tracking, as MediaPipe's HandLandmarkTrackingCpu graph (mp.solutions.hands,
model_complexity=1): palm detection only while fewer than ``max_hands`` hands are tracked, hand
ROIs from each hand's landmarks for the next frame, overlapping ROIs merged.

Handedness: MediaPipe's hand model labels hands as they appear in a *mirrored* (selfie) image.
``HandTracker(mirrored=True)`` (the default) reports that label unchanged, which is the person's
own hand when the frames are mirrored (rtnet mirrors a camera by default) and MediaPipe's output on
any frame. With ``mirrored=False`` the frames are taken to be unmirrored (a video file) and the
label is swapped, so that it still names the person's own hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from rtnet.models import Precision, build_landmark_model
from rtnet.tracking import config as cfg
from rtnet.tracking.detection import Detector, Model, crop_input
from rtnet.tracking.roi import (
    Rect,
    associate,
    box_rect,
    landmarks_rect,
    project_landmarks,
    rotate_world,
    rotation_between,
    transform_rect,
)


@dataclass(frozen=True)
class HandResult:
    """One tracked hand in one frame.

    ``landmarks`` (21, 3) float32: x, y normalised to the frame's width and height, z relative
    depth in MediaPipe's scale. ``world_landmarks`` (21, 3) float32, metres. ``handedness``
    "Left" or "Right" (see the module's note on mirroring) with its probability ``score``;
    ``presence`` is the hand flag; ``roi`` the crop (frame pixels) it was found in.
    """

    handedness: str
    score: float
    presence: float
    landmarks: npt.NDArray[np.float32]
    world_landmarks: npt.NDArray[np.float32]
    roi: Rect


def hand_roi_from_landmarks(points: npt.NDArray[np.float64]) -> Rect:
    """HandLandmarkLandmarksToRoi on (21, >=2) landmarks in pixels."""
    subset = points[list(cfg.HAND_ROI_LANDMARKS), :2]
    # In the subset: 0 wrist, 4 index MCP, 6 middle MCP, 8 ring MCP.
    target = ((subset[4] + subset[8]) / 2.0 + subset[6]) / 2.0
    rotation = rotation_between(subset[0], target, np.pi / 2)
    return transform_rect(landmarks_rect(subset, rotation), cfg.HAND_ROI_FROM_LANDMARKS)


class HandTracker:
    """Track up to ``max_hands`` hands through a stream of BGR frames."""

    def __init__(
        self,
        *,
        detector: Model | None = None,
        landmarks: Model | None = None,
        precision: Precision = "fp32",
        max_hands: int = 2,
        min_detection_confidence: float = cfg.MIN_DETECTION_CONFIDENCE,
        min_tracking_confidence: float = cfg.MIN_TRACKING_CONFIDENCE,
        mirrored: bool = True,
    ) -> None:
        detector = (
            detector
            if detector is not None
            else build_landmark_model("palm_detector", precision=precision)
        )
        landmarks = (
            landmarks
            if landmarks is not None
            else build_landmark_model("hand_landmarks", precision=precision)
        )
        self.detector = Detector(cfg.PALM_DETECTOR, detector, min_detection_confidence)
        self.landmark_model = landmarks
        self.max_hands = max_hands
        self.min_tracking_confidence = min_tracking_confidence
        self.mirrored = mirrored
        self._rois: list[Rect] = []
        self.detections_run = 0

    def reset(self) -> None:
        """Forget the tracked hands: the next frame runs the palm detector."""
        self._rois = []

    def process(self, frame_bgr: npt.NDArray[np.uint8], timestamp_s: float) -> list[HandResult]:
        """The hands in this frame, at most ``max_hands``. ``timestamp_s`` is accepted for the
        tracker protocol; MediaPipe's hand graph does not smooth over time."""
        rois = list(self._rois)
        if len(rois) < self.max_hands:
            self.detections_run += 1
            palms = self.detector(frame_bgr)
            palm = cfg.HAND_ROI_FROM_PALM
            palm_rois = [
                box_rect(
                    palms.boxes[i],
                    palms.keypoints[i, palm.start],
                    palms.keypoints[i, palm.end],
                    palm,
                )
                for i in range(min(len(palms), self.max_hands))
            ]
            # Tracked hands come last so that they win over a palm found on the same hand.
            # MediaPipe keeps all of them (up to 2 * max_hands - 1); rtnet keeps its promise of
            # at most max_hands, the tracked ones first.
            rois = associate(palm_rois + rois, cfg.HAND_ASSOCIATION_IOU)[-self.max_hands :]
        results: list[HandResult] = []
        next_rois: list[Rect] = []
        for roi in rois:
            hand = self._landmarks(frame_bgr, roi)
            if hand is None:
                continue
            results.append(hand[0])
            next_rois.append(hand[1])
        self._rois = next_rois
        return results

    def _landmarks(self, frame: npt.NDArray[np.uint8], roi: Rect) -> tuple[HandResult, Rect] | None:
        height, width = frame.shape[:2]
        size = cfg.HAND_LANDMARK_INPUT
        x = crop_input(frame, roi, size, (0.0, 1.0), "replicate")
        with torch.no_grad():
            outputs = self.landmark_model(x)
        raw, presence, handedness, raw_world = (o.numpy() for o in outputs[:4])
        flag = float(presence.reshape(-1)[0])
        if not flag >= self.min_tracking_confidence:
            return None
        crop = raw.reshape(cfg.HAND_LANDMARKS, 3).astype(np.float64) / size
        crop[:, 2] /= cfg.HAND_Z_NORMALIZE
        px = project_landmarks(crop, roi)
        world = rotate_world(raw_world.reshape(cfg.HAND_LANDMARKS, 3), roi.rotation)
        # TensorsToClassification(binary): "Left" scores p, "Right" 1 - p; the top one is kept.
        left = float(handedness.reshape(-1)[0])
        index, score = (0, left) if left >= 1.0 - left else (1, 1.0 - left)
        if not self.mirrored:
            index = 1 - index
        out = px.astype(np.float32)
        out[:, 0] /= width
        out[:, 1] /= height
        out[:, 2] /= width
        result = HandResult(
            cfg.HANDEDNESS_LABELS[index], score, flag, out, world.astype(np.float32), roi
        )
        return result, hand_roi_from_landmarks(px)
