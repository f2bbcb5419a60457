"""End to end: ``rtnet <app> --path-in VIDEO --no-window --quiet`` in a child process, its
steady frame rate and its peak resident memory."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtnet.bench.common import VIDEO_SIZE, BenchWeights
from rtnet.errors import RtnetError
from rtnet.resample import STEP_FRAMES

VIDEO_FPS = 16.0
BUILT_IN = "built-in"  # E2ESpec.model of the apps on the built-in landmark models
# How often the child's memory high-water mark is read while it runs.
RSS_POLL_S = 0.02


@dataclass(frozen=True)
class E2ESpec:
    """One app run to measure; ``history`` runs it keeping the workout history (to a scratch
    database) to show what that costs, else with ``--no-history``."""

    app: str
    model: str
    precision: str
    history: bool = False
    options: tuple[str, ...] = ()  # more options of the app (``--no-hands``)


@dataclass(frozen=True)
class E2ERun:
    """One app run. ``frames_per_s`` is steady state: from the first to the last JSONL line
    (``--jsonl -``, flushed per step), so start-up and model loading do not count (they are in
    ``wall_s``). ``peak_rss_mb`` is the child's peak resident memory (VmHWM)."""

    app: str  # with its extra options
    model: str
    precision: str
    history: bool
    steps: int
    wall_s: float
    peak_rss_mb: float | None
    frames_per_s: float | None = None
    error: str | None = None


def write_video(path: Path, frames: Sequence[np.ndarray], total: int) -> Path:
    """``total`` frames of ``frames`` played forwards and backwards, as a 16 fps MPEG-4 file."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), VIDEO_FPS, VIDEO_SIZE)
    if not writer.isOpened():
        raise RtnetError(f"cannot write the benchmark video {path}")
    loop = list(frames) + list(frames[::-1])
    try:
        for index in range(total):
            writer.write(cv2.resize(loop[index % len(loop)], VIDEO_SIZE))
    finally:
        writer.release()
    return path


def bench_e2e(
    weights: BenchWeights | None,
    video: Path,
    runs: Sequence[E2ESpec],
    threads: int | None = None,
    scratch: Path | None = None,
) -> list[E2ERun]:
    """Each of ``runs`` on ``video``; history databases go to ``scratch``."""
    results = []
    for index, run in enumerate(runs):
        command = [sys.executable, "-m", "rtnet", run.app, "--path-in", str(video), "--no-window"]
        command += ["--quiet", "--jsonl", "-", "--precision", run.precision, *run.options]
        if run.model != BUILT_IN:  # the built-in landmark models need no weights to be named
            assert weights is not None
            command += ["--weights-dir", str(weights.root), "--model", run.model]
        command += ["--threads", str(threads)] if threads else []
        if run.history:
            folder = scratch or Path(tempfile.gettempdir())
            command += ["--history-db", str(folder / f"bench-history-{index}.sqlite3")]
        else:
            command += ["--no-history"]
        results.append(timed_run(run, command))
    return results


class _PeakMemory(threading.Thread):
    """Reads a running child's VmHWM until told to stop. Read from /proc while the child lives:
    its getrusage ru_maxrss would include the parent's memory at fork time, and a zombie's
    /proc status has none left."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(RSS_POLL_S):
            self.peak = max(self.peak, high_water_mb(self.pid))


def timed_run(run: E2ESpec, command: list[str]) -> E2ERun:
    with tempfile.TemporaryFile("w+") as errors:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        memory = _PeakMemory(child.pid)
        memory.start()
        assert child.stdout is not None
        stamps = []
        for line in child.stdout:
            if line.strip():
                stamps.append(time.perf_counter())
        memory.done.set()
        memory.join()
        child.wait()
        wall = time.perf_counter() - start
        errors.seek(0)
        message = errors.read().strip().splitlines()
    error, fps = None, None
    if child.returncode != 0:
        error = message[-1] if message else f"exit status {child.returncode}"
    elif len(stamps) >= 2:
        # `rtnet pose` writes a JSONL line per frame, the other apps one per step.
        frames = 1 if run.app == "pose" else STEP_FRAMES
        fps = frames * (len(stamps) - 1) / (stamps[-1] - stamps[0])
    return E2ERun(
        " ".join((run.app, *run.options)),
        run.model,
        run.precision,
        run.history,
        len(stamps),
        wall,
        memory.peak or None,
        fps,
        error,
    )


def high_water_mb(pid: int | str) -> float:
    """Peak resident memory of a running process in MiB (Linux; 0 elsewhere)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return 0.0


def import_rss_mb() -> float | None:
    """Resident memory of a process that only imported torch and rtnet's models: the floor
    under every app's peak (a CUDA build of torch alone holds hundreds of MiB)."""
    code = "import torch, rtnet.models, rtnet.bench.e2e as e; print(e.high_water_mb('self'))"
    with contextlib.suppress(OSError, subprocess.SubprocessError, ValueError):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        return float(out) or None
    return None
