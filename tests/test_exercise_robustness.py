"""Robustness of exercise recognition and rep counting across filming conditions.

The issue asks that recognition hold up for the left and right side, mirrored video, partly
visible bodies, 1-4 m from the camera and different body sizes, with no false reps while
standing, walking past or sitting. This module runs the engine on synthetic sequences
(tests/synthetic_pose.py) from seeds used neither for tuning (0-9, 100-159) nor by the held-out
test (300-311), prints recognition and rep accuracy per condition, and asserts a floor for
each.

Conditions are read from the sequence itself: which body side is nearer the camera comes from
the landmarks' depth (after mirroring, as the engine sees it), distance, height, view angle and
mirroring from the generator's record. With the generator's 55-degree lens a whole body only
fits from about 2.3 m, so every other sequence is filmed through a wide-angle lens (90 degrees
vertical, a phone's ultra-wide camera), which the generator places at 1.3-4 m: that brings
whole bodies to 1-2 m. Filmed from 1-1.6 m with the normal lens, the legs are out of the frame
(the `partial` runs).
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pytest

import synthetic_pose
from rtnet.exercises import LEGS_HIDDEN, ExerciseEngine
from synthetic_pose import ASPECT, EXERCISES, HELD, NON_EXERCISES, Sequence, generate
from test_exercises import run

SEEDS = range(400, 412)
PARTIAL_SEEDS = range(400, 404)
# Exercises that only need the upper body, counted with the legs out of the frame.
UPPER_BODY = ("Arm Circles",)
# Exercises that cannot be told or counted without the legs.
LEG_EXERCISES = ("Squats", "Lunges (alternating)", "High Knees", "Butt Kickers")
WIDE_FOV_DEG = 90.0


@contextmanager
def wide_angle_lens() -> Iterator[None]:
    """Films through a wide-angle lens: the generator fits the body from nearer."""
    saved = synthetic_pose.VERTICAL_FOV_DEG, synthetic_pose.FOCAL_PX
    synthetic_pose.VERTICAL_FOV_DEG = WIDE_FOV_DEG
    synthetic_pose.FOCAL_PX = (synthetic_pose.HEIGHT / 2) / np.tan(np.radians(WIDE_FOV_DEG / 2))
    try:
        yield
    finally:
        synthetic_pose.VERTICAL_FOV_DEG, synthetic_pose.FOCAL_PX = saved


def nearer_side(seq: Sequence) -> str:
    """The body side nearer the camera, as the landmarks say (mirrored video swaps it)."""
    # x and z are in frame widths, y in frame heights: all to frame heights.
    points = seq.landmarks[..., :3].astype(np.float64) * np.array([ASPECT, 1.0, ASPECT])
    z = points[..., 2]
    depth = np.nanmedian((z[:, 11] + z[:, 23]) - (z[:, 12] + z[:, 24]))
    torso = np.nanmedian(np.linalg.norm(points[:, 11, :2] - points[:, 23, :2], axis=1))
    lean = depth / (2 * torso)
    if abs(lean) < 0.1:
        return "neither (facing)"
    return "left" if lean < 0 else "right"


@dataclass(frozen=True)
class Outcome:
    activity: str
    conditions: dict[str, str]
    recognised: bool
    # Counted minus true reps (rep exercises), or every rep counted (anything else).
    error: int


def _bin(value: float, edges: tuple[float, ...], unit: str) -> str:
    for lo, hi in itertools.pairwise(edges):
        if lo <= value < hi:
            return f"{lo:g}-{hi:g} {unit}"
    return f">= {edges[-1]:g} {unit}" if value >= edges[-1] else f"< {edges[0]:g} {unit}"


def outcome(engine: ExerciseEngine, seq: Sequence, lens: str) -> Outcome:
    labels, state = run(engine, seq)
    truth = seq.activity if seq.activity in EXERCISES else "Doing nothing"
    votes = collections.Counter(labels[len(labels) // 3 :])
    if seq.activity in EXERCISES and seq.activity not in HELD:
        error = state.reps[seq.activity] - seq.reps
    else:
        error = sum(state.reps.values())
    info = seq.info
    conditions = {
        "nearer side": nearer_side(seq),
        "mirrored": "mirrored" if info["mirrored"] else "not mirrored",
        "distance": _bin(float(info["distance"]), (1.0, 2.0, 3.0, 4.0), "m"),
        "body height": _bin(float(info["height"]), (1.5, 1.65, 1.8, 1.95), "m"),
        "view angle": _bin(abs(float(info["azimuth"])), (0.0, 15.0, 30.0, 45.0), "deg"),
        "lens": lens,
    }
    return Outcome(seq.activity, conditions, votes.most_common(1)[0][0] == truth, error)


@dataclass
class Tally:
    sequences: int = 0
    recognised: int = 0
    rep_sequences: int = 0
    exact: int = 0
    far_off: int = 0
    # Sequences with nothing to count (holds, standing, walking past, sitting) and the reps
    # counted on them anyway; idle ones are those without an exercise.
    still_sequences: int = 0
    false_reps: int = 0
    idle_false_reps: int = 0

    def add(self, o: Outcome) -> None:
        if o.activity in EXERCISES:
            self.sequences += 1
            self.recognised += o.recognised
        if o.activity in EXERCISES and o.activity not in HELD:
            self.rep_sequences += 1
            self.exact += o.error == 0
            self.far_off += abs(o.error) > 1
        else:
            self.still_sequences += 1
            self.false_reps += o.error
            if o.activity in NON_EXERCISES:
                self.idle_false_reps += o.error


def _rate(part: int, whole: int) -> str:
    return f"{part / whole:6.1%} ({part}/{whole})" if whole else "-"


def breakdown(outcomes: list[Outcome]) -> dict[tuple[str, str], Tally]:
    table: dict[tuple[str, str], Tally] = collections.defaultdict(Tally)
    for o in outcomes:
        table[("all", "")].add(o)
        for name, value in o.conditions.items():
            table[(name, value)].add(o)
    return dict(sorted(table.items()))


def print_table(table: dict[tuple[str, str], Tally]) -> None:
    print(
        f"\n{'condition':30s} {'recognised':>17s} {'reps exact':>17s} {'off > 1':>7s}"
        f" {'false reps: holds+idle (idle only) in':>38s}"
    )
    for (name, value), t in table.items():
        print(
            f"{name + ' ' + value:30s} {_rate(t.recognised, t.sequences):>17s}"
            f" {_rate(t.exact, t.rep_sequences):>17s} {t.far_off:7d}"
            f" {t.false_reps:21d} ({t.idle_false_reps}) in {t.still_sequences:3d}"
        )


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    engine = ExerciseEngine(aspect=ASPECT)
    out = []
    for activity in [*EXERCISES, *NON_EXERCISES]:
        for k, seed in enumerate(SEEDS):
            if k % 2:
                with wide_angle_lens():
                    seq = generate(activity, seed)
                out.append(outcome(engine, seq, "wide-angle lens"))
            else:
                out.append(outcome(engine, generate(activity, seed), "normal lens"))
    return out


@pytest.mark.slow
def test_recognition_and_reps_hold_up_in_every_condition(outcomes: list[Outcome]) -> None:
    table = breakdown(outcomes)
    print_table(table)
    # Every value of every condition must have been drawn, or its floor would say nothing.
    values = collections.defaultdict(set)
    for name, value in table:
        values[name].add(value)
    assert values["nearer side"] == {"left", "right", "neither (facing)"}
    assert values["mirrored"] == {"mirrored", "not mirrored"}
    assert {"1-2 m", "2-3 m", "3-4 m"} <= values["distance"]
    assert {"1.5-1.65 m", "1.65-1.8 m", "1.8-1.95 m"} <= values["body height"]
    assert values["view angle"] == {"0-15 deg", "15-30 deg", "30-45 deg"}
    for (name, value), t in table.items():
        where = f"{name} {value}"
        assert t.recognised >= 0.8 * t.sequences, where
        assert t.exact >= 0.8 * t.rep_sequences, where
        # No false reps on standing, walking past or sitting, whatever the condition.
        assert t.idle_false_reps == 0, where
    # Through the generator's own camera (whole bodies at 2.3-4 m) the targets hold:
    # recognition and exact reps >= 95 %, never off by more than 1, no reps while holding still.
    normal = table[("lens", "normal lens")]
    assert normal.recognised >= 0.95 * normal.sequences
    assert normal.exact >= 0.95 * normal.rep_sequences
    assert normal.far_off == 0 and normal.false_reps == 0
    # Through the wide-angle lens they do not yet: prone exercises filmed head-on from 1-2 m
    # (strong foreshortening) are missed, and bodies at 3-4 m - as small in the picture as at
    # 6-8 m with the normal lens - let landmark noise pass for knee drives during planks.
    # These floors keep it from getting worse.
    wide = table[("lens", "wide-angle lens")]
    assert wide.recognised >= 0.95 * wide.sequences
    assert wide.exact >= 0.85 * wide.rep_sequences
    assert wide.far_off <= 3 and wide.false_reps <= 6


@pytest.mark.slow
def test_partly_visible_bodies() -> None:
    """Filmed from 1-1.6 m the legs are out of the frame: the app says so, arm exercises are
    still counted, and nothing is counted that cannot be seen."""
    engine = ExerciseEngine(aspect=ASPECT)
    rows = []
    for activity in (*UPPER_BODY, *LEG_EXERCISES, *NON_EXERCISES):
        for seed in PARTIAL_SEEDS:
            seq = generate(activity, seed, partial=True)
            labels, state = run(engine, seq)
            label = collections.Counter(labels[len(labels) // 3 :]).most_common(1)[0][0]
            counted = state.reps.get(activity, 0) if activity in EXERCISES else 0
            false = sum(n for name, n in state.reps.items() if name != activity)
            rows.append((activity, seq, label, counted, false, state.visibility))
    print(
        f"\n{'legs out of the frame':22s} {'label ok':>10s} {'reps exact':>10s} {'false reps':>10s}"
    )
    for activity in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == activity]
        # Arm exercises recognised; leg exercises and idle ones not taken for an exercise.
        truth = {activity} if activity in UPPER_BODY else {"Doing nothing", "No person visible"}
        print(
            f"{activity:22s} {sum(r[2] in truth for r in mine):6d}/{len(mine)}"
            f" {sum(r[3] == r[1].reps for r in mine):6d}/{len(mine)}"
            f" {sum(r[4] for r in mine):10d}"
        )
    for activity, seq, _label, counted, false, _visibility in rows:
        where = f"{activity} {seq.info}"
        # Nothing counted that was not done, and no reps counted for another exercise.
        assert false == 0, where
        assert counted <= seq.reps, where
    # Said so: the legs are out of the frame on most of these runs for good (a short person
    # sitting at 1.6 m fits whole; walking leaves the picture).
    hidden = [r[5] == LEGS_HIDDEN for r in rows if r[0] != "walking"]
    assert sum(hidden) >= 0.75 * len(hidden)
    arms = [r for r in rows if r[0] in UPPER_BODY]
    assert sum(r[2] in UPPER_BODY for r in arms) >= 0.85 * len(arms)
    assert sum(abs(r[3] - r[1].reps) <= 1 for r in arms) == len(arms)
    assert sum(r[3] == r[1].reps for r in arms) >= 0.75 * len(arms)
    # Leg exercises are not claimed without legs.
    legs = [r for r in rows if r[0] in LEG_EXERCISES]
    assert all(r[2] == "Doing nothing" for r in legs)
    # Standing, walking or sitting is never taken for a rep exercise. (Sitting filmed from about
    # 1 m, hips at the frame's edge, can still pass for a plank: a hold, nothing is counted.)
    idle = [r[2] for r in rows if r[0] in NON_EXERCISES]
    assert all(label in ("Doing nothing", "No person visible", *HELD) for label in idle)
