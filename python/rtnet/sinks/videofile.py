"""The annotated frames, as shown in the window, written to a video file at 16 fps."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rtnet.apps import Summary
from rtnet.errors import ConfigError
from rtnet.resample import MODEL_FPS
from rtnet.sinks.base import RunStats, Sink, check_writable

# Codecs this OpenCV build can write everywhere (no hardware encoder needed); FFV1 is lossless.
FOURCC_BY_SUFFIX = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "FFV1"}


class VideoFileSink(Sink):
    """Opens the writer on the first frame, when the frame size is known."""

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
        self.frames_written = 0

    def on_frame(self, frame: np.ndarray, stats: RunStats) -> None:
        if self._writer is None:
            height, width = frame.shape[:2]
            writer = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, (width, height)
            )
            if not writer.isOpened():
                raise ConfigError(f"cannot write video {self.path}: no {self.fourcc} encoder")
            self._writer = writer
        self._writer.write(frame)
        self.frames_written += 1

    def close(self, summary: Summary, stats: RunStats) -> None:
        # Releasing writes the container's index: without it an mp4 does not play.
        if self._writer is not None:
            self._writer.release()
            self._writer = None
