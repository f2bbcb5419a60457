"""The annotated frames, as shown in the window, written to a video file at 16 fps.

OpenCV's writer reports no write errors (FFmpeg only logs "Failed to write frame"), so failures
are found two ways: while running, a file system with no space left stops the run; at the end,
the finished file is opened again and must hold every frame written (a full disk or a file size
limit leaves an mp4 without its index, which plays nothing). Either ends with one error line.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from pathlib import Path

import cv2
import numpy as np

from rtnet.apps import Summary
from rtnet.errors import ConfigError, OutputError
from rtnet.resample import MODEL_FPS
from rtnet.sinks.base import RunStats, Sink, check_writable

log = logging.getLogger("rtnet")

# Codecs this OpenCV build can write everywhere (no hardware encoder needed); FFV1 is lossless,
# and a Matroska file stays playable up to its last frame even if the process is killed.
FOURCC_BY_SUFFIX = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "FFV1"}
SPACE_CHECK_FRAMES = 16  # look at the free space once per second of video


class VideoFileSink(Sink):
    """Opens the writer when the run starts if the frame size is known then (so an encoder that
    refuses it fails before any output is written), else on the first frame."""

    wants_frames = True

    def __init__(self, path: str | Path, fps: float = MODEL_FPS) -> None:
        self.path = Path(path)
        self.fps = fps
        fourcc = FOURCC_BY_SUFFIX.get(self.path.suffix.lower())
        if fourcc is None:
            known = ", ".join(sorted(FOURCC_BY_SUFFIX))
            raise ConfigError(
                f"cannot write video {self.path}: unknown extension {self.path.suffix!r} "
                f"(use one of {known})"
            )
        self.fourcc = fourcc
        check_writable(self.path, "video")
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.frames_written = 0

    def start(self, stats: RunStats) -> None:
        if stats.frame_size is not None:
            self._open(stats.frame_size)

    def _open(self, size: tuple[int, int]) -> None:
        width, height = size
        writer = cv2.VideoWriter(
            str(self.path), cv2.VideoWriter.fourcc(*self.fourcc), self.fps, (width, height)
        )
        if not writer.isOpened():
            writer.release()
            raise ConfigError(
                f"cannot write video {self.path}: the {self.fourcc} encoder does not take "
                f"{width}x{height} frames (try another extension, or a larger input)"
            )
        self._writer, self._size = writer, size

    def on_frame(self, frame: np.ndarray, stats: RunStats) -> None:
        size = (frame.shape[1], frame.shape[0])
        if self._writer is None:
            self._open(size)
        assert self._writer is not None
        if size != self._size:  # the writer would silently drop it
            raise OutputError(
                f"cannot write video {self.path}: frame size changed from "
                f"{self._size} to {size} during the run"
            )
        self._writer.write(frame)
        self.frames_written += 1
        if self.frames_written % SPACE_CHECK_FRAMES == 0 and _no_space_left(self.path.parent):
            raise OutputError(f"cannot write video {self.path}: no space left on the device")

    def close(self, summary: Summary, stats: RunStats) -> None:
        # Releasing writes the container's index: without it an mp4 does not play.
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        writer.release()
        if self.frames_written == 0:
            # A container without a frame plays nothing and confuses players: leave no file.
            with contextlib.suppress(OSError):
                self.path.unlink()
            log.warning("no frame was read before the run ended: %s not written", self.path)
            return
        readable = _frames_in(self.path)
        if readable != self.frames_written:
            found = "cannot be read back" if readable is None else f"holds {readable} frames"
            raise OutputError(
                f"cannot write video {self.path}: {self.frames_written} frames written but the "
                f"file {found} (disk full, or the file size limit?)"
            )


def _frames_in(path: Path) -> int | None:
    """Frames the finished file's index lists (None when it does not open as a video)."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return None
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        return round(count) if math.isfinite(count) and count >= 0 else None
    finally:
        capture.release()


def _no_space_left(folder: Path) -> bool:
    try:
        fs = os.statvfs(folder)
    except OSError:
        return False  # cannot tell; the check at the end still runs
    # root may use the blocks reserved for it; anyone else only the available ones.
    free = fs.f_bfree if os.geteuid() == 0 else fs.f_bavail
    return free == 0
