"""Per-frame features of tracked pose and hands, for custom classifiers on the built-in models
(``rtnet train --backbone pose``).

The landmarks are put in the body's own frame so that the head learns the motion, not where the
person stands or how far from the camera:

- the body: its centre (between the hips) and scale (the torso, hip centre to shoulder centre)
  in the frame, then every pose landmark relative to that centre in torso lengths, with its
  visibility;
- each hand (slot by handedness, the person's left then right): where its wrist is relative to
  the body, then its 21 landmarks relative to the wrist in hand sizes (wrist to middle-finger
  knuckle), so that hand shapes read the same near and far.

x and y are first brought to one unit (the frame's height), so a circle stays a circle. A
missing pose or hand gives zeros and a 0 flag. ``mirror`` maps the features of a frame to those
of its mirror image (left and right swapped), for training-time augmentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

POSE_POINTS = 33
HAND_POINTS = 21
HANDEDNESS = ("Left", "Right")
_LEFT_HIP, _RIGHT_HIP, _LEFT_SHOULDER, _RIGHT_SHOULDER = 23, 24, 11, 12
_MIDDLE_KNUCKLE = 9  # hand landmark: the hand's size is its distance from the wrist (0)
# BlazePose's left/right pairs: the face points 1-10, then every pair from the shoulders down.
_POSE_PAIRS = [(1, 4), (2, 5), (3, 6), (7, 8), (9, 10)] + [(i, i + 1) for i in range(11, 33, 2)]
MIN_SCALE = 1e-3  # of the frame's height: below it a body or hand is a degenerate detection
LIMIT = 10.0  # features are clipped to +-LIMIT: one wild landmark must not dominate a window

# The layout: [body flag, centre x, centre y, log scale], 33 x [x, y, z, visibility], then per
# hand [flag, wrist x, wrist y, log size] and 21 x [x, y, z].
BODY = 4
POSE = POSE_POINTS * 4
HAND = 4 + HAND_POINTS * 3
FEATURES = BODY + POSE + 2 * HAND


def _mirror_map() -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """(source index, sign) per feature: mirrored[i] = features[source[i]] * sign[i]."""
    source = np.arange(FEATURES)
    sign = np.ones(FEATURES, np.float32)
    sign[1] = -1.0  # the body's centre x
    partner = np.arange(POSE_POINTS)
    for a, b in _POSE_PAIRS:
        partner[a], partner[b] = b, a
    for i in range(POSE_POINTS):
        base = BODY + 4 * i
        source[base : base + 4] = BODY + 4 * partner[i] + np.arange(4)
        sign[base] = -1.0  # x
    for slot in range(2):
        base = BODY + POSE + slot * HAND
        other = BODY + POSE + (1 - slot) * HAND  # the left hand's mirror image is a right hand
        source[base : base + HAND] = other + np.arange(HAND)
        sign[base + 1] = -1.0  # wrist x
        sign[base + 4 : base + HAND : 3] = -1.0  # each landmark's x
    return source, sign


_MIRROR_SOURCE, _MIRROR_SIGN = _mirror_map()


def mirror(features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The features (..., FEATURES) of the mirror images of the frames they came from."""
    mirrored: npt.NDArray[np.float32] = features[..., _MIRROR_SOURCE] * _MIRROR_SIGN
    return mirrored


def _in_height_units(points: npt.NDArray[np.floating], aspect: float) -> npt.NDArray[np.float64]:
    """x, y (normalised to width and height) and z (normalised like x) in frame heights."""
    out = np.array(points[:, :3], dtype=np.float64)
    out[:, 0] *= aspect
    out[:, 2] *= aspect
    return out


def frame_features(
    pose: npt.NDArray[np.floating] | None,
    hands: Sequence[tuple[str, npt.NDArray[np.floating]]],
    aspect: float,
) -> npt.NDArray[np.float32]:
    """One frame's features: ``pose`` (33, 5) landmarks x, y, z, visibility, presence or None;
    ``hands`` (handedness, (21, 3) landmarks) pairs; ``aspect`` the frame's width / height."""
    out = np.zeros(FEATURES, np.float64)
    centre = np.array([0.5 * aspect, 0.5])  # no body: hands relative to the frame's centre
    scale = 0.5
    if pose is not None and np.isfinite(pose[:, :3]).all():
        points = _in_height_units(pose, aspect)
        hips = points[[_LEFT_HIP, _RIGHT_HIP], :2].mean(axis=0)
        shoulders = points[[_LEFT_SHOULDER, _RIGHT_SHOULDER], :2].mean(axis=0)
        torso = float(np.linalg.norm(shoulders - hips))
        if torso >= MIN_SCALE:
            centre, scale = hips, torso
            out[:BODY] = (1.0, hips[0] / aspect - 0.5, hips[1] - 0.5, np.log(torso))
            relative = np.empty((POSE_POINTS, 4))
            relative[:, :2] = (points[:, :2] - hips) / torso
            relative[:, 2] = points[:, 2] / torso  # MediaPipe's z is already hip-relative
            relative[:, 3] = np.nan_to_num(pose[:, 3], nan=0.0)
            out[BODY : BODY + POSE] = relative.reshape(-1)
    for handedness, landmarks in hands:
        if handedness not in HANDEDNESS or not np.isfinite(landmarks).all():
            continue
        points = _in_height_units(landmarks, aspect)
        wrist = points[0]
        size = float(np.linalg.norm(points[_MIDDLE_KNUCKLE, :2] - wrist[:2]))
        if size < MIN_SCALE:
            continue
        base = BODY + POSE + HANDEDNESS.index(handedness) * HAND
        out[base : base + 4] = (1.0, *((wrist[:2] - centre) / scale), np.log(size / scale))
        out[base + 4 : base + HAND] = ((points - wrist) / size).reshape(-1)
    return np.clip(out, -LIMIT, LIMIT).astype(np.float32)


def track_features(tracks: Sequence[Any], aspect: float) -> npt.NDArray[np.float32]:
    """(T, FEATURES) for T frames' ``rtnet.tracking.FrameTracks``."""
    rows = [
        frame_features(
            None if t.pose is None else t.pose.landmarks,
            [(hand.handedness, hand.landmarks) for hand in t.hands],
            aspect,
        )
        for t in tracks
    ]
    return np.stack(rows) if rows else np.zeros((0, FEATURES), np.float32)
