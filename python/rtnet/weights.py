"""The original SenseKit weight files: where they are, which model a task uses, loading, installing.

rtnet ships no weights: users get them from their original publisher and put them in a folder with
the original layout (``backbone/...``, ``fitness_activity_recognition/...``, ...). Every problem
with them is raised as one WeightsError naming the file.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

import platformdirs
import torch
from torch import Tensor

from rtnet.errors import ConfigError, WeightsError

if TYPE_CHECKING:
    from rich.console import Console

ModelName = Literal["efficientnet", "mobilenet"]
Version = Literal["pro", "lite"]
Task = Literal["fitness", "calories", "gestures", "reps"]
FileKind = Literal["backbone", "fitness", "gestures", "reps", "met"]
ModelKey = tuple[ModelName, Version]

ENV_VAR = "RTNET_WEIGHTS"
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


@dataclass(frozen=True)
class TaskSpec:
    """The heads a task runs and the models it may use, in default preference order."""

    heads: tuple[FileKind, ...]
    models: tuple[ModelKey, ...]


_PRO_LITE_MOBILENET_FIRST: tuple[ModelKey, ...] = (
    ("mobilenet", "pro"),
    ("efficientnet", "pro"),
    ("mobilenet", "lite"),
    ("efficientnet", "lite"),
)
TASKS: dict[Task, TaskSpec] = {
    "fitness": TaskSpec(("fitness", "met"), _PRO_LITE_MOBILENET_FIRST),
    "calories": TaskSpec(("met",), _PRO_LITE_MOBILENET_FIRST),
    "gestures": TaskSpec(
        ("gestures",),
        (
            ("efficientnet", "pro"),
            ("mobilenet", "pro"),
            ("efficientnet", "lite"),
            ("mobilenet", "lite"),
        ),
    ),
    "reps": TaskSpec(("reps",), (("efficientnet", "pro"),)),
}

# What a file of each kind holds, for messages ("they look like mobilenet backbone weights").
_DESCRIPTIONS: dict[str, str] = {
    "efficientnet": "efficientnet backbone",
    "mobilenet": "mobilenet backbone",
    "fitness": "fitness classifier head",
    "gestures": "gestures classifier head",
    "reps": "rep-counting head",
    "met": "MET (calorie) regressor head",
}


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
    if model is not None and model not in ("efficientnet", "mobilenet"):
        raise ConfigError(f"unknown model {model!r}: use efficientnet or mobilenet")
    if version is not None and version not in ("pro", "lite"):
        raise ConfigError(f"unknown version {version!r}: use pro or lite")
    order = TASKS[task].models  # type: ignore[index]
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
        f"{PUBLISHER_HINT}, keeping their folder layout, {target}"
    )


# ---------------------------------------------------------------------------------------------
# Loading


def _signature(kind: str) -> tuple[tuple[str, tuple[int, ...]], ...]:
    from rtnet.models import backbone_signature, head_signature  # models imports us lazily too

    if kind in ("efficientnet", "mobilenet"):
        return backbone_signature(kind)  # type: ignore[arg-type]
    return head_signature(kind)  # type: ignore[arg-type]


def _read_state_dict(source: Path) -> dict[str, Tensor]:
    """torch.load restricted to tensors (no code runs); legacy and zip formats."""
    if not source.is_file():
        raise WeightsError(
            f"{source}: weights file not found -- {PUBLISHER_HINT} in {source.parent}"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pickle-protocol chatter from the restricted unpickler
            state = torch.load(source, map_location="cpu", weights_only=True)
    except (EOFError, RuntimeError, OSError, ValueError, struct.error, zipfile.BadZipFile) as err:
        raise WeightsError(
            f"{source}: cannot read this checkpoint, the file is truncated or corrupt "
            f"({type(err).__name__}) -- download it again"
        ) from None
    except Exception as err:  # the restricted unpickler refuses anything that is not plain tensors
        raise WeightsError(
            f"{source}: not a PyTorch weights file, or corrupt ({type(err).__name__}) "
            "-- download it again"
        ) from None
    if not isinstance(state, Mapping) or not all(
        isinstance(key, str) and isinstance(value, Tensor) for key, value in state.items()
    ):
        raise WeightsError(f"{source}: holds {type(state).__name__}, not a state dict of tensors")
    return dict(state)


def load_checkpoint(path: str | Path, kind: str) -> dict[str, Tensor]:
    """The state dict in ``path``, checked key by key and shape by shape against ``kind``
    (a backbone name or a head kind)."""
    path = Path(path)
    state = _read_state_dict(path)
    actual = tuple((key, tuple(value.shape)) for key, value in state.items())
    expected = _signature(kind)
    if sorted(actual) == sorted(expected):
        return state
    look_alike = next(
        (
            other
            for other in _DESCRIPTIONS
            if other != kind and sorted(_signature(other)) == sorted(actual)
        ),
        None,
    )
    wanted = _DESCRIPTIONS[kind]
    if look_alike is not None:
        raise WeightsError(
            f"{path}: expected {wanted} weights, but these are {_DESCRIPTIONS[look_alike]} "
            "weights (a file in the wrong place?)"
        )
    raise WeightsError(
        f"{path}: not {wanted} weights ({_first_difference(dict(expected), dict(actual))})"
    )


def _first_difference(
    expected: dict[str, tuple[int, ...]], actual: dict[str, tuple[int, ...]]
) -> str:
    missing = [key for key in expected if key not in actual]
    unexpected = [key for key in actual if key not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} keys missing, e.g. {missing[0]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys, e.g. {unexpected[0]}")
        return "; ".join(parts)
    key = next(key for key in expected if expected[key] != actual[key])
    return f"{key} has shape {list(actual[key])}, expected {list(expected[key])}"


def _network_of(key: ModelKey, kind: FileKind) -> str:
    """The signature a file must match: backbones by network, heads by kind."""
    return key[0] if kind == "backbone" else kind


# ---------------------------------------------------------------------------------------------
# Report (`rtnet weights`)


@dataclass(frozen=True)
class FileStatus:
    """One known weight file: where it was found and whether it loads and matches."""

    model: ModelName
    version: Version
    kind: FileKind
    tasks: tuple[Task, ...]
    path: Path | None  # None: missing in every searched folder
    size: int | None
    problem: str | None  # None: loads and matches (or was not checked because missing)

    @property
    def ok(self) -> bool:
        return self.path is not None and self.problem is None


def _tasks_using(key: ModelKey, kind: FileKind) -> tuple[Task, ...]:
    return tuple(
        task
        for task, spec in TASKS.items()
        if key in spec.models and (kind == "backbone" or kind in spec.heads)
    )


def weights_report(weights_dir: str | Path | None = None, check: bool = True) -> list[FileStatus]:
    """Status of every known weight file (found in the first searched folder holding it)."""
    search = weights_search_path(weights_dir)
    rows = []
    for key, kinds in WEIGHT_FILES.items():
        for kind, names in kinds.items():
            path = next(
                (p for p in (find_file(entry.path, names) for entry in search) if p is not None),
                None,
            )
            problem = None
            if path is not None and check:
                try:
                    load_checkpoint(path, _network_of(key, kind))
                except WeightsError as err:
                    problem = str(err).removeprefix(f"{path}: ")
            rows.append(
                FileStatus(
                    key[0],
                    key[1],
                    kind,
                    _tasks_using(key, kind),
                    path,
                    path.stat().st_size if path is not None else None,
                    problem,
                )
            )
    return rows


def print_report(
    weights_dir: str | Path | None = None, console: Console | None = None, check: bool = True
) -> None:
    """`rtnet weights`: a table of every model/version/file, then the model each task would use."""
    from rich.console import Console
    from rich.table import Table

    out = console if console is not None else Console()
    search = weights_search_path(weights_dir)
    out.print("Searched: " + ", ".join(str(entry) for entry in search))
    table = Table(title="SenseKit weight files")
    for column in (
        "model",
        "version",
        "file",
        "tasks",
        "status",
        "path",
        "size",
        "loads & matches",
    ):
        table.add_column(column, overflow="fold")
    rows = weights_report(weights_dir, check=check)
    for row in rows:
        if row.path is None:
            status, verdict = "[red]missing[/]", ""
        else:
            status = "[green]found[/]"
            verdict = "[green]yes[/]" if row.problem is None else f"[red]no: {row.problem}[/]"
            if not check:
                verdict = "[dim]not checked[/]"
        table.add_row(
            row.model,
            row.version,
            row.kind,
            ", ".join(row.tasks),
            status,
            str(row.path) if row.path else "",
            _human_size(row.size),
            verdict,
        )
    out.print(table)
    broken = {row.path for row in rows if row.path is not None and row.problem is not None}
    tasks = Table(title="Model per task (default choice)")
    tasks.add_column("task")
    tasks.add_column("model")
    for task in TASKS:
        try:
            chosen = select_model(task, weights_dir=weights_dir)
        except WeightsError:
            tasks.add_row(task, "[red]no complete model[/]")
            continue
        failing = [str(p) for p in (chosen.backbone, *chosen.heads.values()) if p in broken]
        note = f" [red](does not load: {', '.join(failing)})[/]" if failing else ""
        tasks.add_row(task, chosen.label + note)
    out.print(tasks)
    from rtnet.models.lite0 import lite0_table  # the built-in backbone (custom classifiers)

    out.print(lite0_table(check))


def _human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


# ---------------------------------------------------------------------------------------------
# Install (`rtnet weights install PATH`)

# Known relative name -> (model, version, kind), for recognising files in a folder or zip.
_KNOWN_NAMES: dict[str, tuple[ModelKey, FileKind]] = {
    name: (key, kind)
    for key, kinds in WEIGHT_FILES.items()
    for kind, names in kinds.items()
    for name in names
}


@dataclass
class InstallResult:
    """What ``install`` did: files written (final paths) and files it did not recognise."""

    installed: list[Path] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _recognise(member: str) -> str | None:
    """The known relative name ``member`` ends with (longest match: the distribution may sit
    inside a top folder such as ``resources/``)."""
    matches = [name for name in _KNOWN_NAMES if member == name or member.endswith("/" + name)]
    return max(matches, key=len) if matches else None


def install(src: str | Path, dest: str | Path | None = None) -> InstallResult:
    """Copy the weight files of a folder or a .zip into ``dest`` (default: the user data dir).

    Every recognised file is first copied to a staging folder inside ``dest`` and validated there;
    only when all are valid are they moved into place, each with an atomic rename. A bad file
    means nothing is installed.
    """
    src = Path(src).expanduser()
    target = Path(dest).expanduser() if dest is not None else user_weights_dir()
    with contextlib.ExitStack() as stack:
        members = _source_members(src, stack)
        result = InstallResult()
        chosen: dict[str, str] = {}  # known relative name -> member of the source
        for member in members:
            name = _recognise(member)
            if name is None:
                result.ignored.append(member)
            elif name in chosen:
                raise WeightsError(f"{src}: holds {name} twice ({chosen[name]} and {member})")
            else:
                chosen[name] = member
        if not chosen:
            example = WEIGHT_FILES[("efficientnet", "pro")]["backbone"][0]
            raise WeightsError(
                f"{src}: no SenseKit weight files in it (expected names like {example})"
            )

        created = not target.exists()
        target.mkdir(parents=True, exist_ok=True)
        if created:  # a failed first install leaves no empty folder behind (runs last)
            stack.callback(lambda: result.installed or _remove_empty(target))
        staging = Path(tempfile.mkdtemp(prefix=".rtnet-install-", dir=target))
        stack.callback(shutil.rmtree, staging, True)
        staged = {}
        for name, member in sorted(chosen.items()):
            staged_path = staging / name
            staged_path.parent.mkdir(parents=True, exist_ok=True)
            with members[member]() as reader, staged_path.open("wb") as writer:
                shutil.copyfileobj(reader, writer)
                writer.flush()
                os.fsync(writer.fileno())  # on disk before the rename makes it visible
            key, kind = _KNOWN_NAMES[name]
            try:
                load_checkpoint(staged_path, _network_of(key, kind))
            except WeightsError as err:
                # Name the file as the user knows it, not its staging copy.
                where = src / member if src.is_dir() else f"{src}: {member}"
                detail = str(err).removeprefix(f"{staged_path}: ")
                raise WeightsError(f"{where}: {detail}; nothing installed") from None
            staged[name] = staged_path
        for name, staged_path in staged.items():
            final = target / name
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged_path, final)
            result.installed.append(final)
    return result


def _source_members(src: Path, stack: contextlib.ExitStack) -> dict[str, Callable[[], IO[bytes]]]:
    """Relative posix name -> opener, for each file of a folder or a zip archive."""
    if src.is_dir():
        return {
            path.relative_to(src).as_posix(): functools.partial(path.open, "rb")
            for path in sorted(src.rglob("*"))
            if path.is_file()
        }
    if not src.exists():
        raise WeightsError(f"{src}: no such folder or .zip file")
    if not zipfile.is_zipfile(src):
        raise WeightsError(f"{src}: neither a folder nor a .zip file")
    archive = stack.enter_context(zipfile.ZipFile(src))
    return {
        info.filename: functools.partial(archive.open, info)
        for info in archive.infolist()
        if not info.is_dir()
    }


def _remove_empty(folder: Path) -> None:
    """Undo the creation of an install folder that ended up holding nothing."""
    with contextlib.suppress(OSError):
        folder.rmdir()
