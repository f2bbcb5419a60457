"""rtnet: real-time action recognition (fitness, calories, reps, gestures) on a CPU."""

from __future__ import annotations

from importlib.metadata import version

from rtnet._core import CalorieAccumulator, CalorieUpdate, FrameRing, RepCounter, Smoother

# One home: Cargo.toml's version, which maturin writes into the installed metadata.
__version__ = version("rtnet")

__all__ = [
    "CalorieAccumulator",
    "CalorieUpdate",
    "FrameRing",
    "RepCounter",
    "Smoother",
    "__version__",
]
