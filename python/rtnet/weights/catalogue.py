"""The SenseKit weight files rtnet knows: their names, which task runs which heads, and which
model each task prefers. Plain data, no torch: asked before anything heavy starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ModelName = Literal["efficientnet", "mobilenet"]
Version = Literal["pro", "lite"]
Task = Literal["fitness", "calories", "gestures", "reps"]
FileKind = Literal["backbone", "fitness", "gestures", "reps", "met"]
ModelKey = tuple[ModelName, Version]

MODEL_NAMES: tuple[ModelName, ...] = ("efficientnet", "mobilenet")
VERSIONS: tuple[Version, ...] = ("pro", "lite")

PUBLISHER_HINT = (
    "the SenseKit weights are not part of rtnet: download them from their original publisher "
    "(Sense, by Twenty Billion Neurons / Qualcomm) and put them"
)

# Every weight file rtnet knows: per model and version, per file kind, the names it may have
# relative to a weights folder -- the current layout first, then the first release's names.
WEIGHT_FILES: dict[ModelKey, dict[FileKind, tuple[str, ...]]] = {
    ("efficientnet", "pro"): {
        "backbone": (
            "backbone/strided_inflated_efficientnet.ckpt",
            "strided_inflated_efficientnet.ckpt",
        ),
        "fitness": ("fitness_activity_recognition/sien_logreg.ckpt",),
        "gestures": (
            "gesture_recognition/sien_logreg.ckpt",
            "gesture_detection/efficientnet_logistic_regression.ckpt",
        ),
        "met": ("calorie_estimation/sien_met_converter.ckpt",),
        "reps": ("fitness_rep_counting/sien_logreg.ckpt",),
    },
    ("mobilenet", "pro"): {
        "backbone": (
            "backbone/strided_inflated_mobilenet.ckpt",
            "strided_inflated_mobilenet.ckpt",
        ),
        "fitness": (
            "fitness_activity_recognition/simn_logreg.ckpt",
            "fitness_activity_recognition/mobilenet_logistic_regression.ckpt",
        ),
        "gestures": ("gesture_recognition/simn_logreg.ckpt",),
        "met": (
            "calorie_estimation/simn_met_converter.ckpt",
            "calorie_estimation/mobilenet_features_met_converter.ckpt",
        ),
    },
    ("efficientnet", "lite"): {
        "backbone": ("backbone/strided_inflated_efficientnet_lite.ckpt",),
        "fitness": ("fitness_activity_recognition/sien_lite_logreg.ckpt",),
        "gestures": ("gesture_recognition/sien_lite_logreg.ckpt",),
        "met": ("calorie_estimation/sien_lite_met_converter.ckpt",),
    },
    ("mobilenet", "lite"): {
        "backbone": ("backbone/strided_inflated_mobilenet_lite.ckpt",),
        "fitness": ("fitness_activity_recognition/simn_lite_logreg.ckpt",),
        "gestures": ("gesture_recognition/simn_lite_logreg.ckpt",),
        "met": ("calorie_estimation/simn_lite_met_converter.ckpt",),
    },
}

# Model preference orders (the one home of them: the apps' defaults and the custom classifiers'
# backbone both come from here); pro before lite.
EFFICIENTNET_FIRST: tuple[ModelKey, ...] = (
    ("efficientnet", "pro"),
    ("mobilenet", "pro"),
    ("efficientnet", "lite"),
    ("mobilenet", "lite"),
)
MOBILENET_FIRST: tuple[ModelKey, ...] = (
    ("mobilenet", "pro"),
    ("efficientnet", "pro"),
    ("mobilenet", "lite"),
    ("efficientnet", "lite"),
)
# The SenseKit backbone a custom classifier trains on when none is named (before lite0).
CLASSIFIER_BACKBONE_ORDER: tuple[ModelKey, ...] = EFFICIENTNET_FIRST


@dataclass(frozen=True)
class TaskSpec:
    """The heads a task runs and the models it may use, in default preference order."""

    heads: tuple[FileKind, ...]
    models: tuple[ModelKey, ...]


TASKS: dict[Task, TaskSpec] = {
    "fitness": TaskSpec(("fitness", "met"), MOBILENET_FIRST),
    "calories": TaskSpec(("met",), MOBILENET_FIRST),
    "gestures": TaskSpec(("gestures",), EFFICIENTNET_FIRST),
    "reps": TaskSpec(("reps",), (("efficientnet", "pro"),)),
}

# Known relative name -> (model, version, kind), for recognising files in a folder or zip.
KNOWN_NAMES: dict[str, tuple[ModelKey, FileKind]] = {
    name: (key, kind)
    for key, kinds in WEIGHT_FILES.items()
    for kind, names in kinds.items()
    for name in names
}


def checkpoint_kind(key: ModelKey, kind: FileKind) -> str:
    """What a file must hold (a ``rtnet.models.load_checkpoint`` kind): backbones by network,
    heads by kind."""
    return key[0] if kind == "backbone" else kind


def tasks_using(key: ModelKey, kind: FileKind) -> tuple[Task, ...]:
    """The tasks that run the file ``kind`` of model ``key``."""
    return tuple(
        task
        for task, spec in TASKS.items()
        if key in spec.models and (kind == "backbone" or kind in spec.heads)
    )
