"""Exercise recognition and rep counting on pose landmarks, defined as data.

Each exercise is one TOML file in rtnet/exercises/data (signals, posture, phase cycle, MET);
`ExerciseEngine` runs them over landmark steps through the Rust core's `MotionModel`.
"""

from rtnet.exercises.definitions import (
    POSE_LANDMARKS,
    ExerciseDefinition,
    load_definitions,
    parse_definition,
)
from rtnet.exercises.engine import (
    FULL_BODY,
    LEGS_HIDDEN,
    NO_PERSON,
    UPPER_HIDDEN,
    ExerciseEngine,
    ExerciseState,
)

__all__ = [
    "FULL_BODY",
    "LEGS_HIDDEN",
    "NO_PERSON",
    "POSE_LANDMARKS",
    "UPPER_HIDDEN",
    "ExerciseDefinition",
    "ExerciseEngine",
    "ExerciseState",
    "load_definitions",
    "parse_definition",
]
