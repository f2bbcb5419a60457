"""Several inputs for one command: ``--path-in`` with several files, or a folder of videos.

Each input is a run of its own, one after another (a JSONL, a video and a summary each). Its
outputs go into the folders ``--jsonl DIR`` and ``--path-out DIR`` name, under the input's name:
``DIR/<name>.jsonl`` and ``DIR/<name>.mp4``, where a video found in a folder keeps its path
below that folder (``clips/a/x.mov`` -> ``DIR/a/x.jsonl``). One output file for several inputs
is ambiguous, and refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rtnet.errors import ConfigError, SourceError
from rtnet.training.dataset import VIDEO_SUFFIXES

VIDEO_OUT_SUFFIX = ".mp4"
JSONL_SUFFIX = ".jsonl"


@dataclass(frozen=True)
class RunInput:
    """One run's input and outputs, as the single-input options would name them."""

    path_in: str | None  # None: the camera
    jsonl: str | None
    path_out: str | None


def _is_folder(option: str | None) -> bool:
    """An output option naming a folder: one that exists, or a path ending in a separator."""
    return option is not None and (Path(option).is_dir() or option.endswith((os.sep, "/")))


def _expand(given: Sequence[str]) -> list[tuple[Path, Path]]:
    """Every video named, as (video, name for its outputs without suffix)."""
    found: list[tuple[Path, Path]] = []
    for entry in given:
        path = Path(entry).expanduser()
        if path.is_dir():
            videos = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in VIDEO_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not videos:
                raise SourceError(
                    f"no videos in {path} (looked for {', '.join(sorted(VIDEO_SUFFIXES))} files)"
                )
            found += [(p, p.relative_to(path).with_suffix("")) for p in videos]
        elif not path.exists():
            raise SourceError(f"video file not found: {path}")
        else:
            found.append((path, Path(path.stem)))
    return found


def plan_inputs(
    path_in: Sequence[str] | None, jsonl: str | None, path_out: str | None
) -> list[RunInput]:
    """The runs ``--path-in`` (files and folders), ``--jsonl`` and ``--path-out`` ask for."""
    if not path_in:
        return [RunInput(None, jsonl, path_out)]
    several = len(path_in) > 1 or Path(path_in[0]).expanduser().is_dir()
    if not several and not _is_folder(jsonl) and not _is_folder(path_out):
        return [RunInput(path_in[0], jsonl, path_out)]  # the usual run: names as given
    videos = _expand(path_in)
    if len(videos) > 1:
        for option, value in (("--jsonl", jsonl), ("--path-out", path_out)):
            if value is not None and not _is_folder(value):
                shown = "-" if value == "-" else value
                raise ConfigError(
                    f"{option} {shown} names one output for {len(videos)} inputs: give a folder "
                    f"({option} DIR/), which gets one file per input"
                )
    for option, value in (("--jsonl", jsonl), ("--path-out", path_out)):
        if value is not None and _is_folder(value) and not Path(value).expanduser().is_dir():
            raise ConfigError(f"{option} {value}: no such folder (create it first)")
    inputs = {video.resolve() for video, _ in videos}
    runs: list[RunInput] = []
    written: dict[Path, Path] = {}
    for video, name in videos:
        outputs: list[str | None] = []
        for given, suffix in ((jsonl, JSONL_SUFFIX), (path_out, VIDEO_OUT_SUFFIX)):
            if given is None or not _is_folder(given):
                outputs.append(given)
                continue
            target = Path(given).expanduser() / name.with_name(name.name + suffix)
            if target in written:
                raise ConfigError(
                    f"{written[target]} and {video} would both write {target}: name them "
                    "one folder at a time, or rename one"
                )
            if target.resolve() in inputs:
                raise ConfigError(f"{target} would overwrite an input video: choose another folder")
            written[target] = video
            target.parent.mkdir(parents=True, exist_ok=True)
            outputs.append(str(target))
        runs.append(RunInput(str(video), outputs[0], outputs[1]))
    return runs
