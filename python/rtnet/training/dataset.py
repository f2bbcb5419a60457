"""A dataset of the user's own classes: ``DATASET/videos_<split>/<label>/<video files>``.

Class names are the folder names under ``videos_train`` (sorted: that is the output order of the
trained head). Every class needs videos in ``videos_train`` and in ``videos_valid``. Files that are
not videos by their extension (notes, thumbnails, ``.DS_Store``) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
