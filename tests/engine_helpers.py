"""Helpers shared by the engine/CLI tests: lossless test videos and running the real command."""

from __future__ import annotations

import contextlib
import io
import os
import re
import struct
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
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"FFV1"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    back = read_video(path)
    assert len(back) == len(frames)
    assert all(np.array_equal(a, b) for a, b in zip(back, frames, strict=True))
    return path


def write_slow_avi(path: Path) -> Path:
    """A 3-frame MJPG AVI whose stream header claims 1e-9 fps (rate 1 over scale 10^9), so each
    frame would last 30 years: a hostile file, as a header can be."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 16, (64, 48))
    for i in range(3):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    data = bytearray(path.read_bytes())
    strh = data.find(b"strh")
    # strh: type, handler, flags, priority+language, initial frames, then scale and rate.
    struct.pack_into("<II", data, strh + 8 + 20, 1_000_000_000, 1)
    path.write_bytes(bytes(data))
    assert cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) == 1e-9
    return path


def rtnet_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rtnet", *args]


def rtnet_env(display: str | None = None) -> dict[str, str]:
    """The environment minus any display, unless the test brings its own (Xvfb)."""
    env = {key: value for key, value in os.environ.items() if key != "DISPLAY"}
    if display is not None:
        env["DISPLAY"] = display
    return env


# Long enough that no machine gets through it before a test's signal or key press arrives: the
# run goes as fast as inference allows (no --realtime, which drops clips on a loaded machine), and
# 240 steps take far longer than a test takes to react to the first JSONL lines.
LONG_VIDEO_FRAMES = 960


def write_long_video(path: Path, frames: int = LONG_VIDEO_FRAMES) -> Path:
    """A 160x120 16 fps FFV1 file of ``frames`` frames: a bar sweeping over a gradient."""
    height, width = 120, 160
    base = np.tile(np.linspace(0, 200, width, dtype=np.uint8), (height, 1))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"FFV1"), 16, (width, height))
    assert writer.isOpened()
    for i in range(frames):
        frame = np.stack([base, base[::-1], np.full_like(base, i % 256)], axis=-1)
        frame[:, (i * 3) % width : (i * 3) % width + 8] = 255
        writer.write(frame)
    writer.release()
    return path


def start_gestures(
    video: Path,
    weights: Path,
    jsonl: Path,
    out: Path | None,
    display: str | None = None,
    *extra: str,
) -> subprocess.Popen[str]:
    """A running `rtnet gestures` on ``video``, for a test to interrupt once it has seen some
    JSONL lines; without ``display`` it runs with --no-window. The workout history goes to a
    file beside ``jsonl``."""
    args = ["gestures", "--path-in", str(video), "--weights-dir", str(weights)]
    args += ["--jsonl", str(jsonl), *extra]
    if out is not None:
        args += ["--path-out", str(out)]
    if display is None:
        args.append("--no-window")
    env = rtnet_env(display)
    env["RTNET_HISTORY"] = str(jsonl.parent / "history.sqlite3")
    return subprocess.Popen(
        rtnet_command(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
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


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    """``rtnet ARGS`` in this process: (exit status, stdout, stderr)."""
    from rtnet.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(arg) for arg in args])
    return status, out.getvalue(), err.getvalue()
