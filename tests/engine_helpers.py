"""Helpers shared by the engine/CLI tests: lossless test videos and running the real command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np


def read_video(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def write_lossless(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """FFV1 in Matroska, checked to read back bit-exact."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    back = read_video(path)
    assert len(back) == len(frames)
    assert all(np.array_equal(a, b) for a, b in zip(back, frames, strict=True))
    return path


def rtnet_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rtnet", *args]


def rtnet_env(display: str | None = None) -> dict[str, str]:
    """The environment minus any display, unless the test brings its own (Xvfb)."""
    env = {key: value for key, value in os.environ.items() if key != "DISPLAY"}
    if display is not None:
        env["DISPLAY"] = display
    return env


def start_paced_gestures(
    video: Path, weights: Path, jsonl: Path, out: Path, display: str | None = None
) -> subprocess.Popen[str]:
    """A running `rtnet gestures` on ``video`` paced like a camera (--realtime), so a test can
    interrupt it midway; without ``display`` it runs with --no-window."""
    args = ["gestures", "--path-in", str(video), "--realtime", "--weights-dir", str(weights)]
    args += ["--jsonl", str(jsonl), "--path-out", str(out)]
    if display is None:
        args.append("--no-window")
    return subprocess.Popen(
        rtnet_command(*args),
        env=rtnet_env(display),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_rtnet(
    *args: str, display: str | None = None, cwd: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        rtnet_command(*args),
        capture_output=True,
        text=True,
        env=rtnet_env(display),
        cwd=cwd,
        timeout=timeout,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], pattern: str) -> str:
    """Exit status 2, exactly one stderr line `rtnet: error: ...` matching ``pattern``."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rtnet: error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert result.stdout == ""
    return lines[0]


def wait_for_lines(
    path: Path, count: int, process: subprocess.Popen[str], timeout: float = 120
) -> None:
    """Waits until the running ``process`` has written ``count`` lines to ``path``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"{path} did not reach {count} lines in {timeout} s")
