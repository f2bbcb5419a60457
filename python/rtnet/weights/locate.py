"""Where the SenseKit weight files are: the folders searched, and the model a task runs on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from rtnet.errors import ConfigError, WeightsError
from rtnet.weights.catalogue import (
    MODEL_NAMES,
    PUBLISHER_HINT,
    TASKS,
    VERSIONS,
    WEIGHT_FILES,
    FileKind,
    ModelKey,
    ModelName,
    Task,
    Version,
)

ENV_VAR = "RTNET_WEIGHTS"
# Where a user without the SenseKit weights can go (the last part of a "weights missing" error).
WITHOUT_SENSEKIT_HINT = (
    "or, without them, track body and hands with the built-in models (`rtnet pose`), or train "
    "your own classifier on the built-in lite0 backbone (`rtnet train DATASET`) and run it with "
    "`rtnet run --classifier DIR`"
)


@dataclass(frozen=True)
class WeightsDir:
    """A folder searched for weights, and why (for messages)."""

    path: Path
    origin: str

    def __str__(self) -> str:
        return f"{self.path} ({self.origin})"


@dataclass(frozen=True)
class ModelFiles:
    """The files a task runs on: one backbone checkpoint and one checkpoint per head kind."""

    model: ModelName
    version: Version
    backbone: Path
    heads: dict[FileKind, Path]

    @property
    def label(self) -> str:
        return f"{self.model} {self.version}"


def user_weights_dir() -> Path:
    """Where ``rtnet weights install`` puts files (platform user data dir, XDG on Linux)."""
    return platformdirs.user_data_path("rtnet") / "weights"


def weights_search_path(cli_dir: str | Path | None = None) -> list[WeightsDir]:
    """Folders to search, in order. An explicit choice (--weights-dir, else $RTNET_WEIGHTS) is the
    only folder searched: the user said where the weights are. Otherwise ./resources, then the
    user data dir."""
    if cli_dir is not None:
        return [WeightsDir(Path(cli_dir).expanduser().absolute(), "--weights-dir")]
    env = os.environ.get(ENV_VAR)
    if env:
        return [WeightsDir(Path(env).expanduser().absolute(), f"${ENV_VAR}")]
    return [
        WeightsDir(Path("resources").absolute(), "./resources"),
        WeightsDir(user_weights_dir(), "user data dir"),
    ]


def resolve_weights_dir(cli_dir: str | Path | None = None) -> list[Path]:
    """The search order of :func:`weights_search_path`, as plain paths."""
    return [entry.path for entry in weights_search_path(cli_dir)]


def find_file(folder: Path, names: tuple[str, ...]) -> Path | None:
    """The first of ``names`` present in ``folder``."""
    for name in names:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def select_model(
    task: Task,
    model: ModelName | None = None,
    version: Version | None = None,
    weights_dir: str | Path | None = None,
) -> ModelFiles:
    """The model ``task`` runs: ``model``/``version`` if given, else the first in the task's order
    whose files are all present. Folders are searched in order; an earlier folder wins."""
    candidates = _candidates(task, model, version)
    files_needed: tuple[FileKind, ...] = ("backbone", *TASKS[task].heads)
    search = weights_search_path(weights_dir)
    for entry in search:
        for key in candidates:
            found = {kind: find_file(entry.path, WEIGHT_FILES[key][kind]) for kind in files_needed}
            if all(path is not None for path in found.values()):
                paths = {kind: path for kind, path in found.items() if path is not None}
                backbone = paths.pop("backbone")
                return ModelFiles(key[0], key[1], backbone, paths)
    raise WeightsError(_missing_message(task, candidates, files_needed, search))


def _candidates(task: str, model: str | None, version: str | None) -> list[ModelKey]:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}: use one of {', '.join(TASKS)}")
    if model is not None and model not in MODEL_NAMES:
        raise ConfigError(f"unknown model {model!r}: use {' or '.join(MODEL_NAMES)}")
    if version is not None and version not in VERSIONS:
        raise ConfigError(f"unknown version {version!r}: use {' or '.join(VERSIONS)}")
    order = TASKS[task].models
    chosen = [key for key in order if model in (None, key[0]) and version in (None, key[1])]
    if not chosen:
        offered = ", ".join(f"{m} {v}" for m, v in order)
        asked = " ".join(part for part in (model, version) if part)
        raise ConfigError(f"{task} has no {asked} model: it runs on {offered}")
    return chosen


def _missing_message(
    task: str, candidates: list[ModelKey], kinds: tuple[FileKind, ...], search: list[WeightsDir]
) -> str:
    def names(key: ModelKey, kind: FileKind) -> str:
        return " or ".join(WEIGHT_FILES[key][kind])

    looked = "; ".join(
        f"{key[0]} {key[1]}: {', '.join(names(key, kind) for kind in kinds)}" for key in candidates
    )
    places = []
    for entry in search:
        if not entry.path.is_dir():
            places.append(f"{entry.path} ({entry.origin}, does not exist)")
            continue
        lacking = {
            key: [
                names(key, kind)
                for kind in kinds
                if find_file(entry.path, WEIGHT_FILES[key][kind]) is None
            ]
            for key in candidates
        }
        if all(len(missing) == len(kinds) for missing in lacking.values()):
            places.append(f"{entry.path} ({entry.origin}, holds none of them)")
        else:
            detail = "; ".join(f"{key[0]} {key[1]}: {', '.join(m)}" for key, m in lacking.items())
            places.append(f"{entry.path} ({entry.origin}, lacks {detail})")
    if search[0].origin in ("--weights-dir", f"${ENV_VAR}"):
        target = f"in {search[0].path}"
    else:
        target = (
            f"in {user_weights_dir()} (or ./resources); "
            "`rtnet weights install PATH` does that from a folder or .zip"
        )
    return (
        f"no SenseKit weights for {task} found: looked for {looked} in {' and '.join(places)} -- "
        f"{PUBLISHER_HINT}, keeping their folder layout, {target}; {WITHOUT_SENSEKIT_HINT}"
    )
