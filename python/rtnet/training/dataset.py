"""A dataset of the user's own classes: ``DATASET/videos_<split>/<label>/<video files>``.

Class names are the folder names under ``videos_train`` (sorted: that is the output order of the
trained head). Every class needs videos in ``videos_train`` and in ``videos_valid``. Files that are
not videos by their extension (notes, thumbnails, ``.DS_Store``) are ignored.

A clip that ``rtnet record`` cut from a file has a small sidecar beside it, ``<clip>.json``, saying
which span of which file it holds (its ``ClipOrigin``): training warns when a validation clip
repeats a training clip, by identical content or by an overlapping span of the same file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from rtnet.errors import ConfigError

Split = Literal["train", "valid"]
SPLITS: tuple[Split, ...] = ("train", "valid")
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv"}
)


def split_dir(root: Path, split: str) -> Path:
    return root / f"videos_{split}"


@dataclass(frozen=True)
class Video:
    path: Path
    label: str
    split: Split

    @property
    def name(self) -> str:
        """The video as the user knows it: relative to the dataset folder."""
        return f"videos_{self.split}/{self.label}/{self.path.name}"


@dataclass(frozen=True)
class Dataset:
    root: Path
    labels: tuple[str, ...]  # head output order
    videos: Mapping[Split, tuple[Video, ...]]

    def count(self, split: Split, label: str) -> int:
        return sum(video.label == label for video in self.videos[split])


def _class_folders(folder: Path) -> dict[str, tuple[Path, ...]]:
    """Sub-folder name -> its video files (sorted, for a deterministic order)."""
    return {
        entry.name: tuple(
            sorted(
                path
                for path in entry.iterdir()
                if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES
            )
        )
        for entry in sorted(folder.iterdir())
        if entry.is_dir() and not entry.name.startswith(".")
    }


def discover(root: str | Path) -> Dataset:
    """The classes and videos of ``root``; a ConfigError says what to fix when it cannot train."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ConfigError(f"dataset folder not found: {root}")
    train_dir, valid_dir = split_dir(root, "train"), split_dir(root, "valid")
    hint = "record clips with `rtnet record DATASET --label NAME` or copy videos there"
    if not train_dir.is_dir():
        raise ConfigError(f"{root} has no videos_train folder: {hint} (videos_train/<label>/)")
    train = _class_folders(train_dir)
    if len(train) < 2:
        raise ConfigError(
            f"{train_dir} must hold at least two class folders, found "
            f"{len(train)}{': ' + ', '.join(train) if train else ''}"
        )
    for label, files in train.items():
        if not files:
            raise ConfigError(
                f"class {label!r} is empty: no videos in {train_dir / label} "
                "(add some, or remove the folder)"
            )
    valid = _class_folders(valid_dir) if valid_dir.is_dir() else {}
    for label in train:
        if not valid.get(label):
            raise ConfigError(
                f"class {label!r} has no validation videos in {valid_dir / label}: add at least "
                f"one (rtnet record {root} --label {label} --split valid)"
            )
    extra = sorted(set(valid) - set(train))
    if extra:
        raise ConfigError(
            f"{valid_dir} has classes that videos_train lacks: {', '.join(extra)} "
            "(every class needs training videos)"
        )
    labels = tuple(train)
    return Dataset(
        root=root,
        labels=labels,
        videos={
            "train": tuple(Video(p, label, "train") for label in labels for p in train[label]),
            "valid": tuple(Video(p, label, "valid") for label in labels for p in valid[label]),
        },
    )


# ---------------------------------------------------------------------------------------------
# Where clips come from, and validation clips that repeat training clips

ORIGIN_SUFFIX = ".json"


@dataclass(frozen=True)
class ClipOrigin:
    """The span of a source file a recorded clip holds, in the file's stream time."""

    source: str  # the source file, resolved
    start: float  # seconds
    end: float

    def overlaps(self, other: ClipOrigin) -> bool:
        # Spans are whole 1/16 s ticks: spans that only touch share no frame.
        return (
            self.source == other.source
            and self.start < other.end - 1e-6
            and other.start < self.end - 1e-6
        )

    def describe(self) -> str:
        return f"{self.start:.2f}-{self.end:.2f} s of {Path(self.source).name}"


def origin_file(clip: Path) -> Path:
    return clip.with_name(clip.name + ORIGIN_SUFFIX)


def write_origin(clip: Path, origin: ClipOrigin) -> None:
    origin_file(clip).write_text(json.dumps(asdict(origin)) + "\n", encoding="utf-8")


def read_origin(clip: Path) -> ClipOrigin | None:
    """The clip's origin, or None without a readable sidecar (it only feeds a warning)."""
    try:
        data = json.loads(origin_file(clip).read_text(encoding="utf-8"))
        origin = ClipOrigin(str(data["source"]), float(data["start"]), float(data["end"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (math.isfinite(origin.start) and math.isfinite(origin.end)):
        return None
    return origin


@dataclass(frozen=True)
class Leak:
    """A validation video that repeats a training video: validation accuracy overstates."""

    train: Video
    valid: Video
    identical: bool  # the same bytes; else overlapping spans of the same source file
    detail: str = ""

    def message(self) -> str:
        if self.identical:
            return f"{self.valid.name} is identical to {self.train.name} (same content)"
        return f"{self.valid.name} overlaps {self.train.name} ({self.detail})"


def find_leaks(dataset: Dataset, digest: Callable[[Path], str]) -> list[Leak]:
    """Validation videos identical to a training video (by ``digest``, whatever their names),
    or cut by ``rtnet record`` from a span of a file that overlaps a training clip's span."""
    leaks: list[Leak] = []
    digests: dict[Path, str] = {}

    def same_content(a: Path, b: Path) -> bool:
        for path in (a, b):
            if path not in digests:
                digests[path] = digest(path)
        return digests[a] == digests[b]

    def size(path: Path) -> int | None:
        try:
            return path.stat().st_size
        except OSError:
            return None

    # Identical files have equal sizes: only those are hashed.
    by_size: dict[int, list[Video]] = {}
    for video in dataset.videos["train"]:
        if (n := size(video.path)) is not None:
            by_size.setdefault(n, []).append(video)
    origins = [(v, o) for v in dataset.videos["train"] if (o := read_origin(v.path)) is not None]
    for valid in dataset.videos["valid"]:
        twins = [
            train
            for train in by_size.get(size(valid.path) or -1, [])
            if same_content(train.path, valid.path)
        ]
        leaks += [Leak(train, valid, identical=True) for train in twins]
        origin = read_origin(valid.path)
        if origin is None:
            continue
        leaks += [
            Leak(train, valid, False, f"{origin.describe()} and {other.describe()}")
            for train, other in origins
            if train not in twins and origin.overlaps(other)
        ]
    return leaks


def overlapping_clips(root: Path, split: str, origin: ClipOrigin) -> list[str]:
    """Clips of the other split (as ``Video.name``) whose recorded span overlaps ``origin``:
    what ``rtnet record`` warns about right away, before training does."""
    other = "valid" if split == "train" else "train"
    folder = split_dir(root, other)
    if not folder.is_dir():
        return []
    found = []
    for sidecar in sorted(folder.glob(f"*/*{ORIGIN_SUFFIX}")):
        clip = sidecar.with_name(sidecar.name.removesuffix(ORIGIN_SUFFIX))
        span = read_origin(clip) if clip.is_file() else None
        if span is not None and span.overlaps(origin):
            found.append(f"videos_{other}/{clip.parent.name}/{clip.name}")
    return found
