"""The reference preprocessing written with OpenCV, for comparing the Rust core against it."""

from __future__ import annotations

import cv2
import numpy as np


def opencv_letterbox(frame: np.ndarray) -> np.ndarray:
    """Pad to a centred black square, resize to 256x256 with INTER_LINEAR (BGR uint8 out)."""
    height, width = frame.shape[:2]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    square = cv2.copyMakeBorder(
        frame, top, side - height - top, left, side - width - left, cv2.BORDER_CONSTANT, value=0
    )
    return cv2.resize(square, (256, 256), interpolation=cv2.INTER_LINEAR)
