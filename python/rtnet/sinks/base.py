"""What every sink receives, and the output-path check they share."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtnet.apps import StepResult, Summary
from rtnet.errors import ConfigError


@dataclass
class RunStats:
    """Counters of a run, kept by the engine and shown by sinks."""

    source: str
    live: bool
    camera: bool = False
    total_ticks: int | None = None  # known for files (progress bar)
    frame_size: tuple[int, int] | None = None  # (width, height) of the frames sinks get, if known
    ticks: int = 0  # frames fed to the model at 16 fps
    steps: int = 0  # clips through the network
    dropped_clips: int = 0  # live sources: clips skipped because inference fell behind
    input_fps: float = 0.0  # frames read per second of wall time
    model_fps: float = 0.0  # frames per second the network manages (4 / time per clip)
    wall_s: float = 0.0
    interrupted: bool = False

    def status_line(self) -> str:
        source = "camera" if self.camera else "input"
        text = f"{source} {self.input_fps:.0f} fps  model {self.model_fps:.0f} fps"
        if self.live:
            text += f"  dropped clips {self.dropped_clips}"
        return text


class Sink:
    """A consumer of a run's output. Every hook is optional; the engine calls them from one
    thread: ``start``, then ``on_frame``/``on_step`` as they come, then ``close`` (always)."""

    # Whether on_frame wants annotated frames (rendering costs time, so only when needed).
    wants_frames = False

    def start(self, stats: RunStats) -> None:
        """Open files, windows or displays; the run begins."""

    def on_frame(self, frame: np.ndarray, stats: RunStats) -> None:
        """One annotated 16 fps frame (BGR, top border included)."""

    def on_step(self, result: StepResult, stats: RunStats) -> None:
        """One model step, post-processed."""

    def stop_requested(self) -> bool:
        """True when the user asked this sink to end the run (window closed, q pressed)."""
        return False

    def close(self, summary: Summary, stats: RunStats) -> None:
        """The run ended (normally, by the user, or by an error): flush and release."""


def check_writable(path: Path, what: str) -> Path:
    """Fail early, with one line, if ``path`` cannot be written: before any work starts."""
    if path.is_dir():
        raise ConfigError(f"cannot write {what} {path}: it is a directory")
    folder = path.parent
    if not folder.is_dir():
        raise ConfigError(f"cannot write {what} {path}: folder {folder} does not exist")
    # Probing with a real file is the only reliable test (root ignores permission bits,
    # read-only mounts and special file systems refuse files whatever os.access says).
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".rtnet-probe-")
    except OSError:
        raise ConfigError(f"cannot write {what} {path}: folder {folder} is not writable") from None
    os.close(fd)
    os.unlink(probe)
    return path
