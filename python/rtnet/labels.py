"""Class names of the SenseKit heads, in head-output order (shipped as ``labels.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Literal

ClassifierKind = Literal["fitness", "gestures", "reps"]


@dataclass(frozen=True)
class Labels:
    """Class names per classification head; index ``i`` names output ``i`` of that head."""

    fitness: tuple[str, ...]
    gestures: tuple[str, ...]
    reps: tuple[str, ...]
    # Probability at which a gesture "fires"; gestures absent here never fire.
    gesture_event_thresholds: MappingProxyType[str, float]

    def for_head(self, kind: ClassifierKind) -> tuple[str, ...]:
        """Class names of the head ``kind`` ('fitness', 'gestures' or 'reps')."""
        if kind not in ("fitness", "gestures", "reps"):
            raise ValueError(f"no class names for head {kind!r}")
        names: tuple[str, ...] = getattr(self, kind)
        return names


@cache
def load_labels() -> Labels:
    """The packaged class names (read once)."""
    raw = json.loads(resources.files("rtnet").joinpath("labels.json").read_text(encoding="utf-8"))
    return Labels(
        fitness=tuple(raw["fitness"]),
        gestures=tuple(raw["gestures"]),
        reps=tuple(raw["reps"]),
        gesture_event_thresholds=MappingProxyType(
            {name: float(p) for name, p in raw["gesture_event_thresholds"].items()}
        ),
    )
