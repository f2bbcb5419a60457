"""Gesture recognition on steps of pose and hand landmarks.

The Rust core (`MotionModel`) computes the signals, runs each gesture's phase sequence and keeps
how well its posture held; this module turns that evidence into a score per gesture label, the
best of the two hands for gestures made with either hand.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from rtnet.exercises.definitions import (
    POSE_LANDMARKS,
    Catalogue,
    ExerciseDefinition,
    compile_definitions,
    load_definitions,
    parse_definition,
)

GESTURES = Catalogue(
    "gesture",
    "rtnet.gestures",
    ("hold", "motion", "idle", "absent"),
    sequence_kinds=("motion",),
    needs_met=False,
    either_hand=True,
    strict=True,
)
# Below this score no gesture is claimed: the person is doing nothing (or something else).
MIN_SCORE = 0.5
# A step with a person on fewer than this fraction of its recent frames counts as "no person".
MIN_PRESENCE = 0.5
HAND_POINTS = 21
# A mirrored frame shows the person's left where their right would be: the pose model names
# the sides it sees. Swapping them back (and flipping x) gives the person's own left and right,
# which directional gestures (Swiping left, Pointing right) are about.
_UNMIRROR = np.array(
    [
        POSE_LANDMARKS.index(
            name.replace("left", "@").replace("right", "left").replace("@", "right")
        )
        for name in POSE_LANDMARKS
    ]
)


def load_gestures(paths: Iterable[Path] | None = None) -> list[ExerciseDefinition]:
    """The gesture definitions in `paths`, or the built-in ones (rtnet/gestures/data)."""
    return load_definitions(paths, GESTURES)


def parse_gesture(text: str, source: str) -> ExerciseDefinition:
    """Parses and validates one gesture file's text; ConfigError on any mistake."""
    return parse_definition(text, source, GESTURES)


@dataclass(frozen=True)
class GestureState:
    """What the engine says after a step."""

    label: str
    # Score per label (gestures, "Doing nothing", "No person visible"), summing to 1.
    probs: dict[str, float]
    # Hands seen on the step's last frame: "left", "right" (the person's own).
    hands: tuple[str, ...]

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return sorted(self.probs.items(), key=lambda kv: -kv[1])[:k]


class GestureEngine:
    """Feeds steps of pose landmarks (T, 33, 5) and hand landmarks (T, 42, 5: the left hand's
    21, then the right's, NaN where not tracked) with their stream times; returns the state.

    `aspect` is the frame's width / height; `mirrored` whether frames are mirrored (a selfie
    camera), so that left and right are the person's own.
    """

    def __init__(
        self,
        definitions: Sequence[ExerciseDefinition] | None = None,
        *,
        aspect: float = 4 / 3,
        mirrored: bool = False,
        min_visibility: float = 0.5,
        depth_weight: float = 1.0,
    ) -> None:
        self.definitions = list(load_gestures() if definitions is None else definitions)
        compiled = compile_definitions(self.definitions)
        self._model = compiled.motion_model(
            aspect=aspect, min_visibility=min_visibility, depth_weight=depth_weight
        )
        self._owners = np.array(compiled.owners, dtype=np.int64)
        self.mirrored = mirrored
        kinds = [d.kind for d in self.definitions]
        if kinds.count("idle") != 1 or kinds.count("absent") != 1:
            raise ValueError("the definitions need exactly one 'idle' and one 'absent' entry")
        self._idle, self._absent = kinds.index("idle"), kinds.index("absent")
        self.labels = tuple(d.name for d in self.definitions)
        self._presence: deque[tuple[float, bool]] = deque()
        self._window = max(d.window for d in self.definitions)

    def reset(self) -> None:
        self._model.reset()
        self._presence.clear()

    def update(
        self,
        landmarks: npt.NDArray[np.floating],
        hands: npt.NDArray[np.floating] | None,
        times: Sequence[float] | npt.NDArray[np.floating],
    ) -> GestureState:
        """One step: `landmarks` (T, 33, 5) x, y, z, visibility, presence (NaN: no person),
        `hands` (T, 42, 5) or None, and the T stream times in seconds."""
        pose = np.asarray(landmarks, dtype=np.float64).reshape(-1, len(POSE_LANDMARKS), 5)
        count = len(pose)
        if hands is None:
            hand_points = np.full((count, 2 * HAND_POINTS, 5), np.nan)
        else:
            hand_points = np.asarray(hands, dtype=np.float64).reshape(count, 2 * HAND_POINTS, 5)
        frames = np.concatenate([pose, hand_points], axis=1)
        if self.mirrored:
            frames[..., 0] = 1.0 - frames[..., 0]
            frames[:, : len(POSE_LANDMARKS)] = frames[:, _UNMIRROR]
            # The hands go to the nearer wrist in the core, whatever their order.
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        self._model.update(frames, times)
        now = float(times[-1]) if len(times) else 0.0
        for t, frame in zip(times, pose, strict=True):
            self._presence.append((float(t), bool(np.isfinite(frame[:, :2]).all())))
        while self._presence and self._presence[0][0] < now - self._window:
            self._presence.popleft()
        seen = tuple(
            side
            for k, side in enumerate(("left", "right"))
            if count and np.isfinite(hand_points[-1, k * HAND_POINTS, 0])
        )
        return self._state(seen)

    def _state(self, hands: tuple[str, ...]) -> GestureState:
        evidence = self._model.evidence()
        entry = np.nan_to_num(evidence["posture"], nan=0.0) * evidence["cycle"]
        scores = np.zeros(len(self.definitions))
        np.maximum.at(scores, self._owners, entry)
        scores[self._idle] = scores[self._absent] = 0.0
        present = [p for _, p in self._presence]
        person = bool(present) and bool(np.mean(present[-4:]) >= MIN_PRESENCE)
        best = int(np.argmax(scores))
        if not person:
            label = self._absent
            scores[:] = 0.0
            scores[self._absent] = 1.0
        else:
            scores[self._idle] = max(0.0, 1.0 - scores[best])
            label = best if scores[best] >= MIN_SCORE else self._idle
        total = float(scores.sum()) or 1.0
        probs = {self.labels[i]: float(s) / total for i, s in enumerate(scores)}
        return GestureState(label=self.labels[label], probs=probs, hands=hands)
