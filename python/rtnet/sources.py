"""Frame sources behind one interface: a video file or a camera, both yielding 16 fps ticks.

A file yields every tick as fast as it decodes (deterministic, nothing dropped) unless paced with
``realtime``; a camera is live: its timestamps come from the wall clock. Either may be mirrored.
"""

from __future__ import annotations

import math
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from rtnet.errors import ConfigError, SourceError
from rtnet.resample import MODEL_FPS, Tick, TickResampler, TimestampGapError, ticks_before

# A header claiming fewer frames per second is broken (an fps of 1e-9 would make each frame last
# 30 years): refused with one line rather than resampled into endless repeated frames.
MIN_FILE_FPS = 1.0


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` the sources use (lets tests stand in a fake camera)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def get(self, prop: int) -> float: ...
    def release(self) -> None: ...


class Source(Protocol):
    """Where frames come from. ``ticks`` yields 16 fps frames until the end or ``stop`` is set."""

    description: str
    is_camera: bool
    # Live sources run in wall-clock time: when inference falls behind, clips are dropped.
    live: bool
    # Expected number of ticks (progress bar), None when unknown (camera).
    total_ticks: int | None

    def ticks(self, stop: threading.Event) -> Iterator[Tick]: ...

    def close(self) -> None: ...


def _mirrored(frame: np.ndarray, mirror: bool) -> np.ndarray:
    return cv2.flip(frame, 1) if mirror else frame


class VideoFileSource:
    """A video file resampled to 16 fps by its frame timestamps.

    Opening checks everything a user can get wrong (missing, unreadable, empty, not a video) and
    raises ``SourceError`` with one clear line, before any other work starts.
    """

    is_camera = False

    def __init__(
        self,
        path: str | Path,
        *,
        realtime: bool = False,
        mirror: bool = False,
        open_capture: Callable[[str], Capture] | None = None,
    ) -> None:
        self.path = Path(path)
        self.live = realtime
        self.mirror = mirror
        self.description = self.path.name
        self._check_file()
        self._capture: Capture = (open_capture or cv2.VideoCapture)(str(self.path))
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(f"cannot open video file {self.path}: not a video, or corrupt")
        ok, first = self._capture.read()
        if not ok or first is None:
            self._capture.release()
            raise SourceError(f"video file {self.path} has no readable frames (empty or corrupt)")
        self._first: np.ndarray | None = first
        self._first_timestamp = self._timestamp(0)
        self.frame_size = (first.shape[1], first.shape[0])
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if math.isfinite(fps) and fps > 0 else None
        if self.fps is not None and self.fps < MIN_FILE_FPS:
            self._capture.release()
            raise SourceError(
                f"video file {self.path} claims {self.fps:.3g} frames per second "
                f"(below {MIN_FILE_FPS:g}): a broken header"
            )
        frames = self._capture.get(cv2.CAP_PROP_FRAME_COUNT)
        # What the resampler will really produce when the last frame lasts one frame period.
        self.total_ticks = (
            ticks_before(frames / self.fps)
            if self.fps and math.isfinite(frames) and frames > 0
            else None
        )

    def _check_file(self) -> None:
        path = self.path
        if not path.exists():
            raise SourceError(f"video file not found: {path}")
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise SourceError(f"not a video file: {path} is a directory")
        if not stat.S_ISREG(mode):
            # A FIFO, a device (/dev/zero) or a socket: unbounded or unseekable, never a video.
            raise SourceError(
                f"not a video file: {path} is not a regular file ({_file_kind(mode)})"
            )
        if not os.access(path, os.R_OK):
            raise SourceError(f"cannot read video file {path}: permission denied")
        if path.stat().st_size == 0:
            raise SourceError(f"video file {path} is empty")

    def _timestamp(self, index: int) -> float:
        # Timestamps come from the container; frame index / fps only where it gives none.
        msec = self._capture.get(cv2.CAP_PROP_POS_MSEC)
        if math.isfinite(msec) and (msec > 0 or index == 0):
            return msec / 1000.0
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        return index / fps if fps > 0 else index / MODEL_FPS

    def _frames(self) -> Iterator[tuple[np.ndarray, float]]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first, self._first_timestamp
        index = 1
        while True:
            ok, frame = self._capture.read()
            if not ok or frame is None:
                return
            yield frame, self._timestamp(index)
            index += 1

    def ticks(self, stop: threading.Event) -> Iterator[Tick]:
        resampler = TickResampler()
        start = time.monotonic()
        previous = None
        last_interval = 1.0 / (self.fps or MODEL_FPS)
        try:
            for frame, timestamp in self._frames():
                if stop.is_set():
                    return
                if previous is not None and timestamp > previous:
                    last_interval = timestamp - previous
                previous = timestamp
                for tick in resampler.push(_mirrored(frame, self.mirror), timestamp):
                    if stop.is_set():  # per tick: a long gap must not delay a stop
                        return
                    self._pace(start, tick, stop)
                    yield tick
            # The last frame lasts one frame period (the nominal one when the container has it).
            duration = 1.0 / self.fps if self.fps else last_interval
            for tick in resampler.finish_after_last(duration):
                if stop.is_set():
                    return
                self._pace(start, tick, stop)
                yield tick
        except (TimestampGapError, ValueError) as err:
            raise SourceError(f"video file {self.path}: {err}") from None

    def _pace(self, start: float, tick: Tick, stop: threading.Event) -> None:
        # --realtime: hold each tick until its stream time has passed on the wall clock.
        if self.live:
            delay = start + tick.time - time.monotonic()
            if delay > 0:
                stop.wait(delay)

    def close(self) -> None:
        self._capture.release()


class CameraSource:
    """A live camera: frames are timestamped with the clock when they arrive."""

    live = True
    is_camera = True
    total_ticks: int | None = None

    def __init__(
        self,
        camera_id: int,
        *,
        mirror: bool = True,
        open_capture: Callable[[int], Capture] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.camera_id = camera_id
        self.mirror = mirror
        self.description = f"camera {camera_id}"
        self._clock = clock
        opener = open_capture or _open_camera
        self._capture = opener(camera_id)
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(
                f"camera {camera_id} could not be opened (is it connected and not in use?); "
                "choose another with --camera-id or read a file with --path-in"
            )
        ok, first = self._capture.read()
        if not ok or first is None:
            self._capture.release()
            raise SourceError(f"camera {camera_id} opened but delivers no frames")
        self._first: np.ndarray | None = first
        self.frame_size = (first.shape[1], first.shape[0])

    def ticks(self, stop: threading.Event) -> Iterator[Tick]:
        resampler = TickResampler()
        first, self._first = self._first, None
        if first is not None:
            resampler.push(_mirrored(first, self.mirror), self._clock())
        failures = 0
        while not stop.is_set():
            ok, frame = self._capture.read()
            if not ok or frame is None:
                # A camera may hiccup; a run of failures means it went away.
                failures += 1
                if failures >= 50:
                    raise SourceError(f"camera {self.camera_id} stopped delivering frames")
                stop.wait(0.01)
                continue
            failures = 0
            try:
                ticks = resampler.push(_mirrored(frame, self.mirror), self._clock())
            except TimestampGapError as err:
                raise SourceError(f"camera {self.camera_id}: {err}") from None
            for tick in ticks:
                if stop.is_set():
                    return
                yield tick

    def close(self) -> None:
        self._capture.release()


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _open_camera(camera_id: int) -> Capture:
    capture = cv2.VideoCapture(camera_id)
    # Keep the driver's queue short so frames are fresh, not buffered seconds ago.
    capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return capture


def open_source(
    *,
    path_in: str | Path | None,
    camera_id: int,
    mirror: bool | None,
    realtime: bool,
    landmarks_in: str | Path | None = None,
    frame_size: tuple[int, int] | None = None,
) -> Source:
    """The source the options ask for; mirroring defaults to on for a camera, off for a file.
    ``landmarks_in``: a recording of `rtnet pose --jsonl` (rtnet.landmarks_in) instead of video;
    ``mirror`` then says whether its frames were mirrored, where it does not record it."""
    if landmarks_in is not None:
        from rtnet.landmarks_in import LandmarksFile

        return LandmarksFile(landmarks_in, frame_size=frame_size, mirror=mirror, realtime=realtime)
    if frame_size is not None:
        raise ConfigError("--frame-size is for --landmarks-in: a video has its own frame size")
    if path_in is not None:
        return VideoFileSource(path_in, realtime=realtime, mirror=bool(mirror))
    return CameraSource(camera_id, mirror=True if mirror is None else mirror)
