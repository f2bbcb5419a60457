"""Whole-frame detection (pose or palm): letterbox crop, network, anchor decoding, weighted NMS,
letterbox removal. The numeric steps are the Rust core's; this module strings them together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from rtnet import _core
from rtnet.tracking.config import DetectorConfig
from rtnet.tracking.roi import Rect, letterbox_rect, remove_letterbox

# A MediaPipe network as rtnet.models.build_landmark_model returns it: NHWC float32 in, the
# .tflite's outputs out.
Model = Callable[[Tensor], tuple[Tensor, ...]]


@dataclass(frozen=True)
class Detections:
    """Detections best first: scores (M,), boxes (M, 4) as (xmin, ymin, xmax, ymax) and
    keypoints (M, K, 2) as (x, y), in frame pixels."""

    scores: npt.NDArray[np.float32]
    boxes: npt.NDArray[np.float64]
    keypoints: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def crop_input(
    frame: npt.NDArray[np.uint8],
    rect: Rect,
    size: int,
    value_range: tuple[float, float],
    border: Literal["zero", "replicate"],
) -> Tensor:
    """The (1, size, size, 3) RGB model input for ``rect`` of a BGR frame."""
    out = torch.empty((1, size, size, 3), dtype=torch.float32)
    _core.crop_to_tensor(frame, rect, out.numpy(), value_range=value_range, border=border)
    return out


class Detector:
    """One MediaPipe SSD detector on whole frames."""

    def __init__(self, config: DetectorConfig, model: Model, min_score: float) -> None:
        self.config = config
        self.model = model
        self.min_score = min_score
        a = config.anchors
        self.anchors = _core.ssd_anchors(
            input_width=a.input_size,
            input_height=a.input_size,
            strides=a.strides,
            min_scale=a.min_scale,
            max_scale=a.max_scale,
            fixed_anchor_size=True,
        )

    def __call__(self, frame: npt.NDArray[np.uint8]) -> Detections:
        height, width = frame.shape[:2]
        c = self.config
        # keep_aspect_ratio with BORDER_ZERO: the whole frame centred in a black square.
        x = crop_input(frame, letterbox_rect(width, height), c.input_size, c.value_range, "zero")
        raw_boxes, raw_scores = self.model(x)[:2]
        scale = float(c.input_size)
        scores, boxes, keypoints = _core.decode_detections(
            raw_boxes.numpy(),
            raw_scores.numpy(),
            self.anchors,
            num_keypoints=c.num_keypoints,
            x_scale=scale,
            y_scale=scale,
            w_scale=scale,
            h_scale=scale,
            score_clipping_thresh=c.score_clipping,
            min_score_thresh=self.min_score,
        )
        scores, boxes, keypoints = _core.weighted_nms(
            scores, boxes, keypoints, min_suppression_threshold=c.min_suppression
        )
        corners = remove_letterbox(boxes.reshape(-1, 2, 2), width, height).reshape(-1, 4)
        return Detections(scores, corners, remove_letterbox(keypoints, width, height))
