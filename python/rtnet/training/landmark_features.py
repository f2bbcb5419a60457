"""Per-frame features of tracked pose and hands, for custom classifiers on the built-in models
(``rtnet train --backbone pose``).

The landmarks are put in the body's own frame so that the head learns the motion, not where the
person stands or how far from the camera:

- the body: its centre (between the shoulders) and scale (the shoulders' width, or for a body
  seen side-on a share of the torso's length, whichever is larger) in the frame, then every pose
  landmark relative to that centre in body scales (x and y), with its visibility. The shoulders
  are in view however the person is framed, full length or head and shoulders; the hips often
  are not, and then their landmarks are guesses that swing with every crop. The body landmarks'
  depth (z) is left out: MediaPipe's estimate of it swings by more than a body scale on a person
  standing still, and drowned the rest (held-out clips of tests/motion_figure.py --person);
- each hand (slot by handedness, the person's left then right): where its wrist is relative to
  the body, then its 21 landmarks relative to the wrist in hand sizes (wrist to middle-finger
  knuckle), so that hand shapes read the same near and far.

x and y are first brought to one unit (the frame's height), so a circle stays a circle. A
missing pose or hand gives zeros and a 0 flag. ``mirror`` maps the features of a frame to those
of its mirror image (left and right swapped), for training-time augmentation.

``FeatureStream`` computes them frame after frame of one stream, as the classifiers do: the scale
is smoothed over about half a second (a person does not grow between two frames, but the
shoulders' estimate jitters), and a body or hand lost for a few frames keeps its last place
(with a 0 flag) rather than jumping to zeros, which the head would take for a huge movement.
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
# Seen from the front, the shoulders are about 0.75 torso lengths wide; side-on they narrow to
# nothing, and the scale falls back on this share of the torso (hip centre to shoulder centre).
SIDE_ON_SCALE = 0.6
_MIDDLE_KNUCKLE = 9  # hand landmark: the hand's size is its distance from the wrist (0)
# BlazePose's left/right pairs: the face points 1-10, then every pair from the shoulders down.
_POSE_PAIRS = [(1, 4), (2, 5), (3, 6), (7, 8), (9, 10)] + [(i, i + 1) for i in range(11, 33, 2)]
MIN_SCALE = 1e-3  # of the frame's height: below it a body or hand is a degenerate detection
LIMIT = 10.0  # features are clipped to +-LIMIT: one wild landmark must not dominate a window

# The layout: [body flag, centre x, centre y, log scale], 33 x [x, y, visibility], then per
# hand [flag, wrist x, wrist y, log size] and 21 x [x, y, z].
BODY = 4
POINT = 3  # x, y, visibility of a body landmark
POSE = POSE_POINTS * POINT
HAND = 4 + HAND_POINTS * 3
FEATURES = BODY + POSE + 2 * HAND


def _mirror_map(*, swap_hands: bool = True) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """(source index, sign) per feature: mirrored[i] = features[source[i]] * sign[i];
    ``swap_hands`` False keeps each hand in its slot (x still negated)."""
    source = np.arange(FEATURES)
    sign = np.ones(FEATURES, np.float32)
    sign[1] = -1.0  # the body's centre x
    partner = np.arange(POSE_POINTS)
    for a, b in _POSE_PAIRS:
        partner[a], partner[b] = b, a
    for i in range(POSE_POINTS):
        base = BODY + POINT * i
        source[base : base + POINT] = BODY + POINT * partner[i] + np.arange(POINT)
        sign[base] = -1.0  # x
    for slot in range(2):
        base = BODY + POSE + slot * HAND
        # The left hand's mirror image is a right hand.
        other = BODY + POSE + ((1 - slot) if swap_hands else slot) * HAND
        source[base : base + HAND] = other + np.arange(HAND)
        sign[base + 1] = -1.0  # wrist x
        sign[base + 4 : base + HAND : 3] = -1.0  # each landmark's x
    return source, sign


MIRROR_SOURCE, MIRROR_SIGN = _mirror_map()
_UNMIRROR_SOURCE, _UNMIRROR_SIGN = _mirror_map(swap_hands=False)


def mirror(features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The features (..., FEATURES) of the mirror images of the frames they came from."""
    mirrored: npt.NDArray[np.float32] = features[..., MIRROR_SOURCE] * MIRROR_SIGN
    return mirrored


def unmirror_view(features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The features of frames tracked in a mirrored (selfie) view -> those of the same frames
    unmirrored. Unlike ``mirror``, the hands keep their slots: the pose model names the body's
    sides by how they look (swapped in a mirror image), the hand tracker names hands for the
    person (rtnet.tracking.hands, told the frames are mirrored)."""
    unmirrored: npt.NDArray[np.float32] = features[..., _UNMIRROR_SOURCE] * _UNMIRROR_SIGN
    return unmirrored


def _in_height_units(points: npt.NDArray[np.floating], aspect: float) -> npt.NDArray[np.float64]:
    """x, y (normalised to width and height) and z (normalised like x) in frame heights."""
    out = np.array(points[:, :3], dtype=np.float64)
    out[:, 0] *= aspect
    out[:, 2] *= aspect
    return out


def body_scale(pose: npt.NDArray[np.floating], aspect: float) -> float:
    """The body's scale in frame heights (see the module's docstring); NaN for lost landmarks."""
    points = _in_height_units(pose, aspect)[:, :2]
    shoulders = points[[_LEFT_SHOULDER, _RIGHT_SHOULDER]]
    hips = points[[_LEFT_HIP, _RIGHT_HIP]].mean(axis=0)
    width = float(np.linalg.norm(shoulders[0] - shoulders[1]))
    torso = float(np.linalg.norm(shoulders.mean(axis=0) - hips))
    return max(width, SIDE_ON_SCALE * torso)


def frame_features(
    pose: npt.NDArray[np.floating] | None,
    hands: Sequence[tuple[str, npt.NDArray[np.floating]]],
    aspect: float,
    scale: float | None = None,
) -> npt.NDArray[np.float32]:
    """One frame's features: ``pose`` (33, 5) landmarks x, y, z, visibility, presence or None;
    ``hands`` (handedness, (21, 3) landmarks) pairs; ``aspect`` the frame's width / height;
    ``scale`` the body's (default: ``body_scale`` of this frame's pose)."""
    out = np.zeros(FEATURES, np.float64)
    centre = np.array([0.5 * aspect, 0.5])  # no body: hands relative to the frame's centre
    body = 0.5
    if pose is not None and np.isfinite(pose[:, :3]).all():
        points = _in_height_units(pose, aspect)
        shoulders = points[[_LEFT_SHOULDER, _RIGHT_SHOULDER], :2].mean(axis=0)
        size = body_scale(pose, aspect) if scale is None else scale
        if size >= MIN_SCALE:
            centre, body = shoulders, size
            out[:BODY] = (1.0, shoulders[0] / aspect - 0.5, shoulders[1] - 0.5, np.log(size))
            relative = np.empty((POSE_POINTS, POINT))
            relative[:, :2] = (points[:, :2] - shoulders) / size
            relative[:, 2] = np.nan_to_num(pose[:, 3], nan=0.0)
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
        out[base : base + 4] = (1.0, *((wrist[:2] - centre) / body), np.log(size / body))
        out[base + 4 : base + HAND] = ((points - wrist) / size).reshape(-1)
    return np.clip(out, -LIMIT, LIMIT).astype(np.float32)


SCALE_SMOOTHING = 0.15  # per frame at 16 fps: the scale follows over about half a second
HOLD_FRAMES = 8  # a body or hand lost for up to 0.5 s keeps its last features (flag 0)
_SLOTS = (
    slice(0, BODY + POSE),
    slice(BODY + POSE, BODY + POSE + HAND),
    slice(BODY + POSE + HAND, FEATURES),
)


class FeatureStream:
    """The features of one stream's frames, one call per frame in order (see the module's
    docstring); ``reset`` before another stream."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._log_scale: float | None = None
        self._last = np.zeros(FEATURES, np.float32)
        self._lost = [HOLD_FRAMES] * len(_SLOTS)  # frames each slot has been missing

    def __call__(self, track: Any, aspect: float) -> npt.NDArray[np.float32]:
        """``track``: one ``rtnet.tracking.FrameTracks``."""
        pose = None if track.pose is None else track.pose.landmarks
        scale = None
        if pose is not None and np.isfinite(pose[:, :3]).all():
            raw = body_scale(pose, aspect)
            if raw >= MIN_SCALE:
                log = float(np.log(raw))
                if self._log_scale is not None:
                    log = self._log_scale + SCALE_SMOOTHING * (log - self._log_scale)
                self._log_scale = log
                scale = float(np.exp(log))
        hands = [(hand.handedness, hand.landmarks) for hand in track.hands]
        out = frame_features(pose, hands, aspect, scale)
        for i, slot in enumerate(_SLOTS):
            if out[slot.start]:  # the slot's flag: seen in this frame
                self._lost[i] = 0
                continue
            self._lost[i] += 1
            if self._lost[i] <= HOLD_FRAMES:
                out[slot] = self._last[slot]
                out[slot.start] = 0.0
        self._last = out
        return out


def track_features(tracks: Sequence[Any], aspect: float) -> npt.NDArray[np.float32]:
    """(T, FEATURES) for T consecutive frames' ``rtnet.tracking.FrameTracks`` of a new stream."""
    stream = FeatureStream()
    rows = [stream(t, aspect) for t in tracks]
    return np.stack(rows) if rows else np.zeros((0, FEATURES), np.float32)
