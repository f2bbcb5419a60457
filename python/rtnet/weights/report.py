"""``rtnet weights``: every known weight file, where it was found and whether it loads, then the
model each task would run on, then the built-in lite0 backbone. Readable at 80 columns: names never
break inside a word; only paths and problems fold."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rtnet.errors import WeightsError
from rtnet.weights.catalogue import (
    TASKS,
    WEIGHT_FILES,
    FileKind,
    ModelName,
    Task,
    Version,
    checkpoint_kind,
    tasks_using,
)
from rtnet.weights.locate import find_file, select_model, weights_search_path

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from rtnet.models.lite0 import Lite0Status


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


def weights_report(weights_dir: str | Path | None = None, check: bool = True) -> list[FileStatus]:
    """Status of every known weight file (found in the first searched folder holding it)."""
    from rtnet.models import load_checkpoint  # torch, only once files are checked

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
                    load_checkpoint(path, checkpoint_kind(key, kind))  # type: ignore[arg-type]
                except WeightsError as err:
                    problem = str(err).removeprefix(f"{path}: ")
            rows.append(
                FileStatus(
                    key[0],
                    key[1],
                    kind,
                    tasks_using(key, kind),
                    path,
                    path.stat().st_size if path is not None else None,
                    problem,
                )
            )
    return rows


def print_report(
    weights_dir: str | Path | None = None, console: Console | None = None, check: bool = True
) -> None:
    """`rtnet weights`: a table of every model/version/file, then the model each task would use,
    then the built-in landmark models and backbone."""
    from rich.console import Console

    from rtnet.models.lite0 import lite0_status

    out = console if console is not None else Console()
    search = weights_search_path(weights_dir)
    out.print("Searched: " + ", ".join(str(entry) for entry in search))
    rows = weights_report(weights_dir, check=check)
    out.print(files_table(rows, check))
    out.print(tasks_table(rows, weights_dir))
    out.print(landmarks_table(check))
    out.print(lite0_table(lite0_status(check), check))


def _table(title: str, *names: str, fold: tuple[str, ...] = ()) -> Table:
    """Columns in ``fold`` (paths, problems, lists) wrap at the width left, folding only what is
    longer than a line; the others keep their text on one line, so names such as
    ``efficientnet`` never break."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in names:
        if name in fold:
            table.add_column(name, overflow="fold", min_width=9)
        else:
            table.add_column(name, no_wrap=True)
    return table


def _verdict(problem: str | None, check: bool) -> str:
    if not check:
        return "[dim]not checked[/]"
    return "[green]yes[/]" if problem is None else f"[red]no: {problem}[/]"


def _where(path: Path | None, size: int | None) -> str:
    """Found or not, and the file's size and path (on lines of their own: the path folds)."""
    if path is None:
        return "[red]missing[/]"
    return f"[green]found[/] {_human_size(size)}\n[dim]{path}[/]"


def files_table(rows: list[FileStatus], check: bool) -> Table:
    table = _table(
        "SenseKit weight files",
        "model",
        "file",
        "tasks",
        "status, path",
        "loads",
        fold=("tasks", "status, path", "loads"),
    )
    for row in rows:
        table.add_row(
            f"{row.model} {row.version}",
            row.kind,
            ", ".join(row.tasks),
            _where(row.path, row.size),
            _verdict(row.problem, check) if row.path is not None else "",
        )
    return table


def tasks_table(rows: list[FileStatus], weights_dir: str | Path | None) -> Table:
    broken = {row.path for row in rows if row.path is not None and row.problem is not None}
    table = _table("Model per task", "task", "default model", fold=("default model",))
    for task in TASKS:
        try:
            chosen = select_model(task, weights_dir=weights_dir)
        except WeightsError:
            from rtnet.resolve import POSE_APPS

            if task in POSE_APPS:  # the apps fall back to the built-in pose models
                table.add_row(task, "pose (built-in; no SenseKit model found)")
            else:
                table.add_row(task, "[red]no complete model[/]")
            continue
        failing = [str(p) for p in (chosen.backbone, *chosen.heads.values()) if p in broken]
        note = f" [red](does not load: {', '.join(failing)})[/]" if failing else ""
        table.add_row(task, chosen.label + note)
    return table


def landmarks_table(check: bool) -> Table:
    """The built-in landmark models (rtnet pose; fitness, calories, reps on --model pose): they
    ship inside the package; say where from, and whether each file loads."""
    from rtnet.errors import WeightsError
    from rtnet.models.landmarks import (
        LANDMARK_MODELS,
        MEDIAPIPE_VERSION,
        load_weights,
        weights_path,
    )

    table = _table(
        "Built-in landmark models (rtnet pose; fitness, calories, reps on --model pose)",
        "model",
        "source",
        "status, path",
        "loads",
        fold=("source", "status, path", "loads"),
    )
    for name, model in LANDMARK_MODELS.items():
        path = weights_path(name)
        size = path.stat().st_size if path.is_file() else None
        problem = None if path.is_file() else "missing: reinstall rtnet"
        if problem is None and check:
            try:
                load_weights(model.network(), path)
            except WeightsError as err:
                problem = str(err)
        table.add_row(
            name,
            f"MediaPipe {MEDIAPIPE_VERSION}, {Path(model.tflite).name} (Apache-2.0)",
            _where(path if size is not None else None, size),
            _verdict(problem, check) if size is not None else f"[red]{problem}[/]",
        )
    return table


def lite0_table(status: Lite0Status, check: bool) -> Table:
    """The built-in backbone: it needs no download, but say where it comes from and whether it
    loads."""
    from rtnet.models.lite0 import NAME, PACKAGE

    table = _table(
        "Built-in backbone (custom classifiers: rtnet train / run --classifier)",
        "model",
        "source",
        "status, path",
        "loads",
        fold=("source", "status, path", "loads"),
    )
    table.add_row(
        NAME,
        f"ImageNet EfficientNet-Lite0 (Python package {PACKAGE})",
        _where(status.path, status.size),
        _verdict(status.problem, check) if status.path is not None else f"[red]{status.problem}[/]",
    )
    return table


def _human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
