"""``rtnet record DATASET --label NAME``: a countdown in the window, then a clip recorded at 16 fps
into ``DATASET/videos_<split>/<NAME>/``, ready for ``rtnet train``.

Frames come through the same ``Source`` interface as every app (a camera, or a file with
``--path-in``), resampled to the model's 16 fps, so a recorded clip holds exactly the frames the
model will see. Countdown and clip length are measured in stream time; a file's clip may start
later in it (``--start``). The clip is written under a temporary name and renamed when complete:
an interrupted recording leaves nothing behind. A clip cut from a file gets a sidecar naming the
span it holds, so that ``rtnet train`` can warn when training and validation clips overlap.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rtnet.errors import ConfigError, SourceError
from rtnet.training.dataset import ClipOrigin, overlapping_clips, write_origin

if TYPE_CHECKING:
    from rich.console import Console

    from rtnet.sinks.base import Sink
    from rtnet.sources import Source

HELP = "record a clip of one of your own classes, for `rtnet train`"
SPLITS = ("train", "valid")
SUFFIX = ".mp4"  # plays everywhere; training reads any format OpenCV reads
DEFAULT_SECONDS = 5.0
DEFAULT_COUNTDOWN = 3.0
_LABEL = re.compile(r"[^/\\\x00]+")


@dataclass(frozen=True)
class RecordOptions:
    dataset: Path
    label: str
    split: str = "train"
    seconds: float = DEFAULT_SECONDS
    countdown: float = DEFAULT_COUNTDOWN
    start: float = 0.0  # seconds of a file skipped before the countdown

    def validated(self) -> RecordOptions:
        label = self.label.strip()
        if not label or not _LABEL.fullmatch(label) or label.startswith("."):
            raise ConfigError(
                f"invalid --label {self.label!r}: a class name is a plain folder name "
                "(no slashes, not starting with a dot)"
            )
        if self.split not in SPLITS:
            raise ConfigError(f"invalid --split {self.split!r}: use train or valid")
        if not (math.isfinite(self.seconds) and 0 < self.seconds <= 600):
            raise ConfigError(f"invalid --seconds {self.seconds:g}: expected 0 to 600 seconds")
        if not (math.isfinite(self.countdown) and 0 <= self.countdown <= 60):
            raise ConfigError(f"invalid --countdown {self.countdown:g}: expected 0 to 60 seconds")
        if not (math.isfinite(self.start) and self.start >= 0):
            raise ConfigError(f"invalid --start {self.start:g}: expected 0 or more seconds")
        if self.dataset.exists() and not self.dataset.is_dir():
            raise ConfigError(f"dataset {self.dataset} is a file, not a folder")
        return RecordOptions(
            self.dataset, label, self.split, self.seconds, self.countdown, self.start
        )

    @property
    def folder(self) -> Path:
        return self.dataset / f"videos_{self.split}" / self.label


@dataclass(frozen=True)
class Recording:
    path: Path
    frames: int
    seconds: float
    complete: bool  # False: the source ended before ``seconds``
    origin: ClipOrigin | None = None  # the span of the source file (None: a camera)


def next_clip_path(folder: Path, label: str) -> Path:
    """``<label>_<n>.mp4`` with the first n not taken (clips are never overwritten)."""
    taken = {path.stem for path in folder.glob("*")} if folder.is_dir() else set()
    n = 1
    while f"{label}_{n:03d}" in taken:
        n += 1
    return folder / f"{label}_{n:03d}{SUFFIX}"


def record(
    source: Source,
    options: RecordOptions,
    sinks: Sequence[Sink] = (),
    stop: threading.Event | None = None,
) -> Recording | None:
    """Count down, then record; returns None when the user stopped before the clip was done.

    ``sinks`` get the annotated frames (countdown banner, recording status), like an app's
    window. The clip itself holds the frames as the source delivered them.
    """
    from rtnet.apps import Summary
    from rtnet.overlay import Overlay, OverlayView
    from rtnet.resample import MODEL_FPS
    from rtnet.sinks.base import RunStats
    from rtnet.sinks.videofile import VideoFileSink
    from rtnet.sources import VideoFileSource

    options = options.validated()
    _check_start(source, options.start)
    stop = stop or threading.Event()
    options.folder.mkdir(parents=True, exist_ok=True)
    final = next_clip_path(options.folder, options.label)
    partial = final.with_name(f".{final.stem}.part{SUFFIX}")
    writer = VideoFileSink(partial, fps=MODEL_FPS)
    stats = RunStats(source=source.description, live=source.live)
    overlay = Overlay(lines=1)
    title = f"rtnet record: {options.label} ({options.split})"
    wanted = round(options.seconds * MODEL_FPS)
    recorded = 0
    first_time = last_time = 0.0
    reached_start = False
    stopped = False
    try:
        for sink in sinks:
            sink.start(stats)
        for tick in source.ticks(stop):
            stats.ticks = tick.index + 1
            # --start: decoded and dropped, so the clip's frames are the ticks the apps would
            # see at those times (exact to the tick, unlike a keyframe seek).
            if tick.time < options.start - 1e-9:
                if stop.is_set():
                    stopped = True
                    break
                continue
            reached_start = True
            remaining = options.start + options.countdown - tick.time
            if remaining > 1e-9:  # stream times are multiples of 1/16 s
                view = OverlayView(
                    title, lines=["get ready..."], banner=str(math.ceil(remaining - 1e-9))
                )
            else:
                writer.on_frame(tick.frame, stats)
                if recorded == 0:
                    first_time = tick.time
                last_time = tick.time
                recorded += 1
                view = OverlayView(
                    title, lines=[f"REC  {recorded / MODEL_FPS:.1f} / {options.seconds:g} s"]
                )
            if sinks:
                shown = overlay.render(tick.frame, view)
                for sink in sinks:
                    sink.on_frame(shown, stats)
            if recorded >= wanted:
                break
            if stop.is_set() or any(sink.stop_requested() for sink in sinks):
                stopped = True
                break
        stopped = stopped or stop.is_set()
    finally:
        summary = Summary()
        writer.close(summary, stats)
        for sink in sinks:
            sink.close(summary, stats)
        source.close()
        if stopped or recorded == 0:
            partial.unlink(missing_ok=True)
    if stopped and recorded < wanted:
        return None
    if not reached_start:  # the file's frame count overstated its length
        raise SourceError(f"{source.description} ended before --start {options.start:g}")
    if recorded == 0:
        raise SourceError(
            f"{source.description} ended during the {options.countdown:g} s countdown: "
            "nothing recorded (use a shorter --countdown)"
        )
    origin = None
    if isinstance(source, VideoFileSource):
        # Written first: a clip never exists without its sidecar.
        origin = ClipOrigin(str(source.path.resolve()), first_time, last_time + 1 / MODEL_FPS)
        write_origin(final, origin)
    os.replace(partial, final)
    # A file may end before ``seconds``: the clip then holds what it gave.
    return Recording(final, recorded, recorded / MODEL_FPS, recorded >= wanted, origin)


def _check_start(source: Source, start: float) -> None:
    """``--start`` is for files, and must fall inside the file (when its length is known)."""
    from rtnet.resample import MODEL_FPS

    if start == 0:
        return
    if source.is_camera:
        raise ConfigError("--start needs --path-in: a camera records from now")
    if source.total_ticks is not None and start >= source.total_ticks / MODEL_FPS:
        raise ConfigError(
            f"invalid --start {start:g}: {source.description} is "
            f"{source.total_ticks / MODEL_FPS:.2f} s long"
        )


# ---------------------------------------------------------------------------------------------
# Command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rtnet record``."""
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder (created if needed)")
    parser.add_argument("--label", required=True, metavar="NAME", help="class of this clip")
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="train",
        help="videos_train (default) or videos_valid",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=DEFAULT_SECONDS,
        metavar="S",
        help=f"clip length (default: {DEFAULT_SECONDS:g})",
    )
    parser.add_argument(
        "--countdown",
        type=float,
        metavar="S",
        help=f"seconds before recording starts (default: {DEFAULT_COUNTDOWN:g} for a camera, "
        "0 for a file)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--camera-id", type=int, default=0, metavar="N", help="camera to record (default: 0)"
    )
    source.add_argument(
        "--path-in", metavar="FILE", help="take the clip from a video file, resampled to 16 fps"
    )
    parser.add_argument(
        "--start",
        type=float,
        default=0.0,
        metavar="S",
        help="with --path-in: where in the file the clip starts, in seconds (default: 0); "
        "take training and validation clips from different parts",
    )
    parser.add_argument(
        "--mirror",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="flip frames left-right, as the apps do (default: on for a camera, off for a file); "
        "record the way you will run",
    )
    parser.add_argument("--no-window", action="store_true", help="do not open a window")


def run(args: argparse.Namespace, console: Console) -> int:
    """``rtnet record``: returns the exit status."""
    from rtnet.consoles import stdout_console
    from rtnet.sinks.window import WindowSink
    from rtnet.sources import open_source

    if args.camera_id < 0:
        raise ConfigError(f"invalid --camera-id {args.camera_id}: expected 0 or more")
    countdown = args.countdown
    if countdown is None:
        countdown = 0.0 if args.path_in else DEFAULT_COUNTDOWN
    if args.start and not args.path_in:
        raise ConfigError("--start needs --path-in: a camera records from now")
    options = RecordOptions(
        Path(args.dataset).expanduser(), args.label, args.split, args.seconds, countdown, args.start
    ).validated()
    sinks = [] if args.no_window else [WindowSink(f"rtnet record: {options.label}")]
    source = open_source(
        path_in=args.path_in, camera_id=args.camera_id, mirror=args.mirror, realtime=False
    )
    out = stdout_console()
    try:
        result = record(source, options, sinks)
    finally:
        source.close()
    if result is None:
        out.print("Recording stopped before the clip was complete: nothing saved.")
        return 130  # as an interrupted app run
    note = "" if result.complete else f" (the source ended after {result.seconds:.1f} s)"
    span = "" if result.origin is None else f", {result.origin.describe()}"
    clips = sum(1 for p in options.folder.iterdir() if p.suffix == SUFFIX and p.is_file())
    out.print(
        f"Recorded {result.frames} frames ({result.seconds:.1f} s{span}) to {result.path}{note}; "
        f"{options.label} now has {clips} clip{'s' * (clips != 1)} in videos_{options.split}"
    )
    if result.origin is not None:
        for clip in overlapping_clips(options.dataset, options.split, result.origin):
            out.print(
                f"[yellow]warning: this clip overlaps {clip}: the same frames in training and "
                "validation make the validation accuracy meaningless (use --start)[/]",
                highlight=False,
            )
    return 0
