"""The original SenseKit weight files: which files each model and task needs (catalogue), where
they are (locate), installing them (install) and the ``rtnet weights`` report (report).

rtnet ships no weights: users get them from their original publisher and put them in a folder with
the original layout (``backbone/...``, ``fitness_activity_recognition/...``, ...). Every problem
with them is raised as one WeightsError naming the file. Reading and checking a file is
``rtnet.models.load_checkpoint``'s job; this package imports torch only when it checks files.
"""

from __future__ import annotations

from rtnet.weights.catalogue import (
    CLASSIFIER_BACKBONE_ORDER,
    KNOWN_NAMES,
    PUBLISHER_HINT,
    TASKS,
    WEIGHT_FILES,
    FileKind,
    ModelKey,
    ModelName,
    Task,
    TaskSpec,
    Version,
    checkpoint_kind,
)
from rtnet.weights.install import InstallResult, install
from rtnet.weights.locate import (
    ENV_VAR,
    ModelFiles,
    WeightsDir,
    find_file,
    resolve_weights_dir,
    select_model,
    user_weights_dir,
    weights_search_path,
)
from rtnet.weights.report import FileStatus, print_report, weights_report

__all__ = [
    "CLASSIFIER_BACKBONE_ORDER",
    "ENV_VAR",
    "KNOWN_NAMES",
    "PUBLISHER_HINT",
    "TASKS",
    "WEIGHT_FILES",
    "FileKind",
    "FileStatus",
    "InstallResult",
    "ModelFiles",
    "ModelKey",
    "ModelName",
    "Task",
    "TaskSpec",
    "Version",
    "WeightsDir",
    "checkpoint_kind",
    "find_file",
    "install",
    "print_report",
    "resolve_weights_dir",
    "select_model",
    "user_weights_dir",
    "weights_report",
    "weights_search_path",
]
