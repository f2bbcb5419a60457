"""Pose and hand tracking on MediaPipe's networks (ported to PyTorch in rtnet.models.landmarks),
as MediaPipe's pose and hand graphs run them."""

from __future__ import annotations

from rtnet.tracking.hands import HandResult, HandTracker
from rtnet.tracking.pose import PoseResult, PoseTracker
from rtnet.tracking.roi import Rect
from rtnet.tracking.stream import FrameTracks, PoseStep, PoseSteps, Tracking

__all__ = [
    "FrameTracks",
    "HandResult",
    "HandTracker",
    "PoseResult",
    "PoseStep",
    "PoseSteps",
    "PoseTracker",
    "Rect",
    "Tracking",
]
