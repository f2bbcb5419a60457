"""rtnet: real-time action recognition (fitness, calories, reps, gestures) on a CPU."""

from __future__ import annotations

from rtnet._core import CalorieAccumulator, CalorieUpdate, FrameRing, RepCounter, Smoother

__version__ = "0.1.0"

__all__ = [
    "CalorieAccumulator",
    "CalorieUpdate",
    "FrameRing",
    "RepCounter",
    "Smoother",
    "__version__",
]
