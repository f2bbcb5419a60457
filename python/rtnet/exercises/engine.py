"""Exercise recognition and rep counting on pose landmarks, per step of frames.

The Rust core (`MotionModel`) computes the signals and runs each exercise's phase cycle; this
module turns its evidence into scores, a label, committed rep counts, a MET figure and a note on
what part of the body is seen. A rep is one tracked person's: when the body seen is not the one
seen before (found again far from where it was lost, or after a gap of over a second), the core
starts the phase cycles and the evidence afresh (`MotionModel.people` counts such bodies).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from rtnet.exercises.definitions import (
    POSE_LANDMARKS,
    ExerciseDefinition,
    compile_definitions,
    load_definitions,
)

# Below this score no exercise is claimed: the person is doing nothing (or something else).
MIN_SCORE = 0.5
# A step with a person on fewer than this fraction of its frames counts as "no person".
MIN_PRESENCE = 0.5
_UPPER = tuple(POSE_LANDMARKS.index(n) for n in ("left_shoulder", "right_shoulder")) + tuple(
    range(13, 17)
)
_LEGS = tuple(range(25, 29))
_HIPS = (23, 24)

# Visibility notes the app can show.
FULL_BODY = "full body"
LEGS_HIDDEN = "legs not visible"
UPPER_HIDDEN = "upper body not visible"
NO_PERSON = "no person"


@dataclass(frozen=True)
class ExerciseState:
    """What the engine says after a step."""

    label: str
    # Score per label (exercises, "Doing nothing", "No person visible"), summing to 1.
    probs: dict[str, float]
    # Committed reps per rep exercise (counted while the exercise was recognised).
    reps: dict[str, int]
    met: float
    # Reps per minute of the label over its window, None for held or idle labels.
    cadence: float | None
    visibility: str
    # Exercises whose signals were all seen on at least half of the recent frames.
    countable: tuple[str, ...] = field(default=())

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return sorted(self.probs.items(), key=lambda kv: -kv[1])[:k]


class ExerciseEngine:
    """Feeds steps of pose landmarks (T, 33, 5) with their stream times; returns the state.

    `aspect` is the frame's width / height (the landmarks' x and y are normalised to them).
    """

    def __init__(
        self,
        definitions: Sequence[ExerciseDefinition] | None = None,
        *,
        aspect: float = 4 / 3,
        min_visibility: float = 0.5,
        depth_weight: float = 1.0,
    ) -> None:
        self.definitions = list(load_definitions() if definitions is None else definitions)
        compiled = compile_definitions(self.definitions)
        self._model = compiled.motion_model(
            aspect=aspect, min_visibility=min_visibility, depth_weight=depth_weight
        )
        self._by_kind = {
            kind: [i for i, d in enumerate(self.definitions) if d.kind == kind]
            for kind in ("reps", "hold", "idle", "absent")
        }
        if len(self._by_kind["idle"]) != 1 or len(self._by_kind["absent"]) != 1:
            raise ValueError("the definitions need exactly one 'idle' and one 'absent' entry")
        self.labels = tuple(d.name for d in self.definitions)
        self._seen_reps = np.zeros(len(self.definitions), dtype=np.int64)
        self._pending: list[deque[tuple[float, int]]] = [deque() for _ in self.definitions]
        self._committed = {self.definitions[i].name: 0 for i in self._by_kind["reps"]}
        self._presence: deque[tuple[float, bool]] = deque()

    def reset(self) -> None:
        self._model.reset()
        self._seen_reps[:] = 0
        for pending in self._pending:
            pending.clear()
        self._committed = dict.fromkeys(self._committed, 0)
        self._presence.clear()

    def update(
        self, landmarks: npt.NDArray[np.floating], times: Sequence[float] | npt.NDArray[np.floating]
    ) -> ExerciseState:
        """One step: `landmarks` (T, 33, 5) — x, y, z, visibility, presence; NaN for frames
        without a person — and the T stream times in seconds."""
        landmarks = np.asarray(landmarks, dtype=np.float64)
        if landmarks.ndim == 2:
            landmarks = landmarks[None]
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        self._model.update(landmarks, times)
        now = float(times[-1]) if len(times) else 0.0
        for t, frame in zip(times, landmarks, strict=True):
            self._presence.append((float(t), bool(np.isfinite(frame[:, :2]).all())))
        window = max(d.window for d in self.definitions)
        while self._presence and self._presence[0][0] < now - window:
            self._presence.popleft()
        return self._state(now)

    def _state(self, now: float) -> ExerciseState:
        evidence = self._model.evidence()
        posture = np.nan_to_num(evidence["posture"], nan=0.0)
        scores = posture * evidence["cycle"]
        absent = self._by_kind["absent"][0]
        idle = self._by_kind["idle"][0]
        for i in (absent, idle):
            scores[i] = 0.0
        present = [p for _, p in self._presence]
        person = bool(present) and bool(np.mean(present[-4:]) >= MIN_PRESENCE)
        active = self._by_kind["reps"] + self._by_kind["hold"]
        best = max(active, key=lambda i: scores[i]) if active else idle
        if not person:
            label = absent
            scores[:] = 0.0
            scores[absent] = 1.0
        else:
            scores[idle] = max(0.0, 1.0 - scores[best])
            label = best if scores[best] >= MIN_SCORE else idle
        total = float(scores.sum()) or 1.0
        probs = {self.labels[i]: float(s) / total for i, s in enumerate(scores)}
        self._commit(evidence["reps"].astype(np.int64), label, now)
        definition = self.definitions[label]
        cadence = None
        if definition.kind == "reps":
            cadence = 60.0 * float(evidence["recent_reps"][label]) / definition.window
        return ExerciseState(
            label=self.labels[label],
            probs=probs,
            reps=dict(self._committed),
            met=definition.met_at(cadence),
            cadence=cadence,
            visibility=self._visibility(person),
            countable=tuple(self.labels[i] for i in active if evidence["coverage"][i] >= 0.5),
        )

    def _commit(self, reps: npt.NDArray[np.int64], label: int, now: float) -> None:
        """Reps count for the recognised exercise. Reps an exercise's machine finishes before
        recognition catches up (the first one or two) wait for up to its window."""
        for i in self._by_kind["reps"]:
            new = int(reps[i] - self._seen_reps[i])
            self._seen_reps[i] = reps[i]
            pending = self._pending[i]
            if new:
                pending.append((now, new))
            while pending and pending[0][0] < now - self.definitions[i].window:
                pending.popleft()
            if i == label:
                self._committed[self.labels[i]] += sum(n for _, n in pending)
                pending.clear()

    def _visibility(self, person: bool) -> str:
        if not person:
            return NO_PERSON
        seen = self._model.landmark_visibility
        if np.mean(seen[list(_UPPER)]) < 0.5:
            return UPPER_HIDDEN
        if np.mean(seen[list(_LEGS)]) < 0.5:
            return LEGS_HIDDEN
        return FULL_BODY
