"""Landmark features for classifiers on the built-in models (rtnet.training.landmark_features)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import numpy.typing as npt
import pytest

from rtnet.training.landmark_features import (
    BODY,
    FEATURES,
    HAND,
    HOLD_FRAMES,
    POSE,
    frame_features,
    mirror,
    track_features,
)
from synthetic_pose import ASPECT, MIRROR, generate


def _hand(
    rng: np.random.Generator, at: tuple[float, float], size: float
) -> npt.NDArray[np.float32]:
    shape = rng.normal(0.0, 1.0, (21, 3))
    shape[0] = 0.0
    shape[9, :2] = (0.0, -1.0)  # the middle knuckle one hand size above the wrist
    points = np.empty((21, 3))
    points[:, 0] = at[0] + shape[:, 0] * size / ASPECT
    points[:, 1] = at[1] + shape[:, 1] * size
    points[:, 2] = shape[:, 2] * size / ASPECT
    return points.astype(np.float32)


def _frame(seed: int) -> tuple[npt.NDArray[np.float32], list[tuple[str, npt.NDArray[np.float32]]]]:
    seq = generate("Jumping Jacks", seed)
    pose = seq.landmarks[np.isfinite(seq.landmarks).all(axis=(1, 2))][5]
    rng = np.random.default_rng(seed)
    hands = [("Left", _hand(rng, (0.6, 0.4), 0.05)), ("Right", _hand(rng, (0.35, 0.45), 0.04))]
    return pose, hands


def _moved(points: npt.NDArray[np.float32], shift: tuple[float, float], zoom: float) -> npt.NDArray:
    """The same body filmed closer (zoom about the frame's centre) and off to one side."""
    out = points.copy()
    out[:, 0] = 0.5 + (points[:, 0] - 0.5) * zoom + shift[0]
    out[:, 1] = 0.5 + (points[:, 1] - 0.5) * zoom + shift[1]
    out[:, 2] = points[:, 2] * zoom
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_position_and_distance_change_only_the_body_s_place_and_scale(seed: int) -> None:
    pose, hands = _frame(seed)
    before = frame_features(pose, hands, ASPECT)
    shift, zoom = (0.1, -0.05), 1.6
    after = frame_features(
        _moved(pose, shift, zoom), [(h, _moved(p, shift, zoom)) for h, p in hands], ASPECT
    )
    assert before[0] == after[0] == 1.0
    assert after[1] != pytest.approx(before[1]) and after[3] == pytest.approx(
        before[3] + np.log(zoom), abs=1e-5
    )
    # Everything else (the pose in torso lengths, the hands' shapes and places) is unchanged.
    keep = np.ones(FEATURES, bool)
    keep[1:4] = False
    np.testing.assert_allclose(after[keep], before[keep], atol=2e-4)


def test_mirror_maps_a_frame_to_its_mirror_image() -> None:
    pose, hands = _frame(3)
    flipped_pose = pose[MIRROR].copy()  # the person's left is now where the right was (z stays)
    flipped_pose[:, 0] = 1.0 - flipped_pose[:, 0]
    flipped_hands = []
    for handedness, points in hands:
        flipped = points.copy()
        flipped[:, 0] = 1.0 - flipped[:, 0]
        flipped_hands.append(("Right" if handedness == "Left" else "Left", flipped))
    features = frame_features(pose, hands, ASPECT)
    np.testing.assert_allclose(
        mirror(features), frame_features(flipped_pose, flipped_hands, ASPECT), atol=1e-5
    )
    np.testing.assert_array_equal(mirror(mirror(features)), features)
    assert not np.allclose(mirror(features), features)


def test_missing_pose_and_hands_are_zeros_with_a_zero_flag() -> None:
    empty = frame_features(None, [], ASPECT)
    assert empty.shape == (FEATURES,) and not empty.any()
    _, hands = _frame(4)
    only_hands = frame_features(None, hands[:1], ASPECT)
    assert only_hands[0] == 0.0 and not only_hands[BODY : BODY + POSE].any()
    left = only_hands[BODY + POSE : BODY + POSE + HAND]
    assert left[0] == 1.0 and np.isfinite(left).all()
    assert not only_hands[BODY + POSE + HAND :].any()  # no right hand
    # Lost landmarks (NaN) and degenerate detections are missing, not NaN features.
    broken = np.full((33, 5), np.nan, np.float32)
    assert not frame_features(broken, [("Left", np.zeros((21, 3), np.float32))], ASPECT).any()


def test_wild_landmarks_are_clipped() -> None:
    pose, hands = _frame(5)
    pose = pose.copy()
    pose[0, :2] = (50.0, -40.0)  # a nose far outside the frame
    features = frame_features(pose, hands, ASPECT)
    assert np.abs(features).max() <= 10.0 and np.isfinite(features).all()


def _tracks(poses: list[npt.NDArray[np.float32] | None]) -> list[SimpleNamespace]:
    """Stand-ins for rtnet.tracking.FrameTracks: what FeatureStream reads of them."""
    return [
        SimpleNamespace(pose=None if p is None else SimpleNamespace(landmarks=p), hands=[])
        for p in poses
    ]


def test_a_stream_smooths_the_scale_and_holds_a_lost_body_briefly() -> None:
    pose, _ = _frame(6)
    jitter = [_moved(pose, (0.0, 0.0), zoom) for zoom in (1.0, 1.2, 0.85, 1.1, 0.9)]
    features = track_features(_tracks(list(jitter)), ASPECT)
    single = np.stack([frame_features(p, [], ASPECT) for p in jitter])
    # Frame by frame the scale jumps by up to 35%; the stream's moves far less.
    assert np.ptp(single[:, 3]) > 0.3
    assert np.ptp(features[:, 3]) < 0.5 * np.ptp(single[:, 3])
    # A body lost for a few frames keeps its last place with a 0 flag; then it is zeros.
    lost = track_features(_tracks([pose, *[None] * (HOLD_FRAMES + 1), pose]), ASPECT)
    held = lost[1 : HOLD_FRAMES + 1]
    assert (held[:, 0] == 0.0).all()
    np.testing.assert_array_equal(
        held[:, 1 : BODY + POSE], np.repeat(lost[:1, 1 : BODY + POSE], HOLD_FRAMES, 0)
    )
    assert not lost[HOLD_FRAMES + 1].any()
    assert lost[-1, 0] == 1.0
