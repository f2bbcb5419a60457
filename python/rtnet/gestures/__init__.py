"""Gesture recognition on pose and hand landmarks, defined as data.

Each gesture is one TOML file in rtnet/gestures/data, in the exercises' format (see
rtnet.exercises.definitions) with the hands' landmarks; `GestureEngine` runs them over landmark
steps through the Rust core's `MotionModel`, as `ExerciseEngine` runs the exercises.
"""

from rtnet.gestures.engine import (
    GESTURES,
    GestureEngine,
    GestureState,
    load_gestures,
    parse_gesture,
)

__all__ = ["GESTURES", "GestureEngine", "GestureState", "load_gestures", "parse_gesture"]
