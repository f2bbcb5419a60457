"""Drawing tracked poses and hands onto BGR frames (in place), with the skeletons as data."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from rtnet.tracking.hands import HandResult
from rtnet.tracking.pose import PoseResult

# MediaPipe's pose topology (33 landmarks; see pose_landmark_cpu.pbtxt for the names).
POSE_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)  # fmt: skip
# MediaPipe's hand topology (21 landmarks: wrist, then four joints per finger, thumb first).
HAND_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4),
    (0, 5), (5, 6), (6, 7), (7, 8),
    (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16),
    (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)  # fmt: skip

POSE_COLOUR = (80, 220, 80)  # BGR
HAND_COLOURS = {"Left": (255, 160, 40), "Right": (40, 120, 255)}
MIN_VISIBILITY = 0.5  # landmarks drawn only when at least this likely to be visible


def _pixels(landmarks: npt.NDArray[np.float32], frame: npt.NDArray[np.uint8]) -> np.ndarray:
    height, width = frame.shape[:2]
    xy = landmarks[:, :2] * np.array([width, height], dtype=np.float32)
    return np.round(xy).astype(np.int32)


def _skeleton(
    frame: npt.NDArray[np.uint8],
    points: np.ndarray,
    shown: Sequence[bool],
    connections: Sequence[tuple[int, int]],
    colour: tuple[int, int, int],
    thickness: int,
) -> None:
    for a, b in connections:
        if shown[a] and shown[b]:
            p, q = points[a], points[b]
            cv2.line(frame, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), colour, thickness,
                     cv2.LINE_AA)  # fmt: skip
    for (x, y), show in zip(points, shown, strict=True):
        if show:
            cv2.circle(frame, (int(x), int(y)), thickness + 1, colour, -1, cv2.LINE_AA)


def line_thickness(frame: npt.NDArray[np.uint8]) -> int:
    """Lines about 1/240 of the frame's short side: 2 px at 480p."""
    return max(1, round(min(frame.shape[:2]) / 240))


def draw_pose(
    frame: npt.NDArray[np.uint8], pose: PoseResult, min_visibility: float = MIN_VISIBILITY
) -> None:
    """Draw ``pose``'s skeleton on ``frame``, skipping landmarks unlikely to be visible."""
    shown = [bool(v >= min_visibility) for v in pose.landmarks[:, 3]]
    _skeleton(frame, _pixels(pose.landmarks, frame), shown, POSE_CONNECTIONS, POSE_COLOUR,
              line_thickness(frame))  # fmt: skip


def draw_hands(frame: npt.NDArray[np.uint8], hands: Sequence[HandResult]) -> None:
    """Draw each hand's skeleton on ``frame``, coloured by handedness."""
    for hand in hands:
        points = _pixels(hand.landmarks, frame)
        colour = HAND_COLOURS.get(hand.handedness, POSE_COLOUR)
        _skeleton(frame, points, [True] * len(points), HAND_CONNECTIONS, colour,
                  line_thickness(frame))  # fmt: skip
