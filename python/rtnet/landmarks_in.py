"""Landmarks in (``--landmarks-in FILE.jsonl``): a recording of `rtnet pose --jsonl` replayed in
place of a video, so a session can be analysed again, as can landmarks from other tools written
in the same format.

``LandmarksFile`` is the run's source. It streams the file line by line (never all of it in
memory) and yields 16 fps ticks at the recorded times, each with a blank frame of the recorded
size: x and y are normalised to that frame (the exercise engine needs its aspect) and the video
and window draw on it. Each tick's recorded tracks wait in the source until the network's
``RecordedTracking`` takes them, so the landmark networks are never built.

Each line is one object: ``time`` (seconds, never going back), ``pose`` (null, or ``score`` and
33 ``landmarks`` [x, y, z, visibility, presence]), optionally ``hands`` (``handedness`` "Left" or
"Right", ``score``, 21 ``landmarks`` [x, y, z]), ``size`` ([width, height] of the frame),
``mirrored`` (a selfie view: whose left is the left) and ``frame`` (an index, not used: the times
place the frames). A file without ``size`` needs ``--frame-size``; without ``mirrored``, frames
count as unmirrored unless ``--mirror``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np
import numpy.typing as npt

from rtnet.errors import SourceError
from rtnet.resample import MAX_GAP_S, MODEL_FPS, Tick, ticks_before
from rtnet.tracking.hands import HandResult
from rtnet.tracking.pose import PoseResult
from rtnet.tracking.roi import Rect
from rtnet.tracking.stream import FrameTracks

POSE_POINTS, POSE_VALUES = 33, 5
HAND_POINTS, HAND_VALUES = 21, 3
HANDEDNESS = ("Left", "Right")
# A recorded line is a few kB; a longer one is not a landmarks file (and is never read whole).
MAX_LINE_BYTES = 1 << 20
# The blank frames are this large at most (8K video): a typo must not allocate gigabytes.
MAX_FRAME_SIDE = 8192
# What the trackers do not record (world landmarks, the crop they searched): not a number.
_UNRECORDED_ROI = Rect(math.nan, math.nan, math.nan, math.nan, math.nan)


class _Invalid(ValueError):
    """A line's problem: ``line`` is its number (set where the line is known)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class _Record:
    line: int
    time: float
    size: tuple[int, int] | None
    mirrored: bool | None
    pose: PoseResult | None
    hands: list[HandResult]


class LandmarksFile:
    """A landmarks JSONL as a ``Source`` (see the module's note); ``take`` hands a tick's
    recorded tracks to ``RecordedTracking``.

    Opening reads the file once, streaming, to check every line (a bad line is reported before
    any output is written) and to count the ticks. ``frame_size`` and ``mirrored`` are what the
    file records, else what the options say (``mirrored`` defaults to off, as for a file); an
    option that contradicts the file is an error."""

    is_camera = False

    def __init__(
        self,
        path: str | Path,
        *,
        frame_size: tuple[int, int] | None = None,
        mirror: bool | None = None,
        realtime: bool = False,
    ) -> None:
        self.path = Path(path)
        self.live = realtime
        self.description = self.path.name
        _check_file(self.path)
        if frame_size is not None:
            _check_size(frame_size, "--frame-size")
        self.total_ticks: int | None = 0
        recorded = _StreamFacts()
        with self.path.open("rb") as file:
            for index, _ in self._timeline(file, recorded):
                self.total_ticks = index + 1
        if recorded.size is not None and frame_size is not None and frame_size != recorded.size:
            raise SourceError(
                f"--frame-size {_size_text(frame_size)} differs from the size {self.path} "
                f"records, {_size_text(recorded.size)}"
            )
        if recorded.mirrored is not None and mirror not in (None, recorded.mirrored):
            option, frames = ("--mirror", "unmirrored") if mirror else ("--no-mirror", "mirrored")
            raise SourceError(f"{option}: {self.path} records {frames} frames")
        size = recorded.size or frame_size
        if size is None:
            raise SourceError(
                f'{self.path}: no frame size recorded ("size": [width, height]); '
                "give it with --frame-size WxH"
            )
        self.frame_size: tuple[int, int] = size
        self.mirrored: bool = bool(mirror) if recorded.mirrored is None else recorded.mirrored
        self._waiting: dict[int, FrameTracks] = {}
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None

    def ticks(self, stop: threading.Event) -> Iterator[Tick]:
        width, height = self.frame_size
        blank = np.zeros((height, width, 3), np.uint8)
        blank.setflags(write=False)  # one frame for every tick: nothing may draw on it
        start = time.monotonic()
        with self._lock:
            self._waiting.clear()
        with self.path.open("rb") as self._file:
            for index, record in self._timeline(self._file, _StreamFacts()):
                if stop.is_set():
                    return
                # Stamped as the trackers stamp a tick: its stream time at the end of the frame.
                tracks = FrameTracks(
                    index,
                    (index + 1) / MODEL_FPS,
                    record.pose,
                    record.hands,
                    self.frame_size,
                    self.mirrored,
                )
                with self._lock:
                    self._waiting[index] = tracks
                tick = Tick(index, index / MODEL_FPS, blank)
                if self.live:  # --realtime: each tick when its stream time has passed
                    delay = start + tick.time - time.monotonic()
                    if delay > 0:
                        stop.wait(delay)
                yield tick

    def take(self, index: int) -> FrameTracks:
        """Tick ``index``'s tracks. Ticks before it were dropped (``--realtime``): forgotten."""
        with self._lock:
            tracks = self._waiting.pop(index)
            for older in [k for k in self._waiting if k < index]:
                del self._waiting[older]
        return tracks

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def _timeline(self, file: IO[bytes], facts: _StreamFacts) -> Iterator[tuple[int, _Record]]:
        try:
            yield from _timeline(facts.check(_records(file)))
        except _Invalid as err:
            raise SourceError(f"{self.path} line {err.line}: {err}") from None


class _StreamFacts:
    """What holds for the whole recording (frame size, mirroring): the first line that records
    it says it, and every later one that records it must agree."""

    def __init__(self) -> None:
        self.size: tuple[int, int] | None = None
        self.mirrored: bool | None = None

    def check(self, records: Iterator[_Record]) -> Iterator[_Record]:
        for record in records:
            if record.size is not None:
                if self.size is not None and record.size != self.size:
                    raise _Invalid(
                        f"frame size {_size_text(record.size)} differs from "
                        f"{_size_text(self.size)} before it (one recording, one frame size)",
                        record.line,
                    )
                self.size = record.size
            if record.mirrored is not None:
                if self.mirrored not in (None, record.mirrored):
                    raise _Invalid(
                        f'"mirrored" {json.dumps(record.mirrored)} differs from the lines before',
                        record.line,
                    )
                self.mirrored = record.mirrored
            yield record


class RecordedTracking:
    """A ``FrameTracker`` (rtnet.tracking) that replays ``LandmarksFile``'s tracks instead of
    tracking frames; without ``hands``, the hands are left out, as the trackers leave them out."""

    takes_frames = True

    def __init__(self, recording: LandmarksFile, *, hands: bool) -> None:
        self.recording = recording
        self.hands = hands

    def reset(self) -> None:
        pass  # the recording restarts with its ticks

    def __call__(self, frame: npt.NDArray[np.uint8], index: int) -> FrameTracks:
        tracks = self.recording.take(index)
        return tracks if self.hands else replace(tracks, hands=[])


def _records(file: IO[bytes]) -> Iterator[_Record]:
    """The file's records, streamed (a line is never read past ``MAX_LINE_BYTES``)."""
    for number in itertools.count(1):
        raw = file.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_BYTES:
            raise _Invalid(f"longer than {MAX_LINE_BYTES} bytes: not a landmarks line", number)
        try:
            record = _parse(raw, number)
        except _Invalid as err:
            err.line = number
            raise
        yield record


def _timeline(records: Iterator[_Record]) -> Iterator[tuple[int, _Record]]:
    """(tick, record) pairs: tick k, k / MODEL_FPS seconds after the first record, replays the
    latest record at or before it, as rtnet.resample does with a video's frames; the last record
    lasts as long as the one before it. A file of `rtnet pose` gives back its frames one to one."""
    latest: _Record | None = None
    origin = 0.0
    interval = 1.0 / MODEL_FPS
    next_tick = 0
    for record in records:
        if latest is None:
            origin = record.time
        else:
            gap = record.time - latest.time
            if gap < 0:
                raise _Invalid(
                    f"time {record.time:g} goes back before {latest.time:g} (line {latest.line})",
                    record.line,
                )
            if gap > MAX_GAP_S:
                raise _Invalid(
                    f"{gap:g} s after line {latest.line} (more than {MAX_GAP_S:g} s: a broken "
                    "time?)",
                    record.line,
                )
            interval = gap if gap > 0 else interval
            end = ticks_before(record.time - origin)
            yield from ((tick, latest) for tick in range(next_tick, end))
            next_tick = max(next_tick, end)
        latest = record
    if latest is None:
        raise _Invalid("no frames, only blank lines", 1)
    end = ticks_before(latest.time - origin + interval)
    yield from ((tick, latest) for tick in range(next_tick, end))


def _parse(raw: bytes, line: int) -> _Record:
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except _Invalid:
        raise
    except json.JSONDecodeError as err:
        raise _Invalid(f"not JSON ({err.msg} at column {err.colno})") from None
    except UnicodeDecodeError:
        raise _Invalid("not UTF-8 text") from None
    except RecursionError:
        raise _Invalid("not JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise _Invalid("not a JSON object")
    if "frame" in value and (not _is_int(value["frame"]) or value["frame"] < 0):
        raise _Invalid(f'"frame" {json.dumps(value["frame"])[:40]} is not a frame index')
    if "time" not in value:
        raise _Invalid('no "time"')
    record_time = _number(value["time"], '"time"')
    size = _size(value["size"]) if "size" in value else None
    mirrored = value.get("mirrored")
    if mirrored is not None and not isinstance(mirrored, bool):
        raise _Invalid(f'"mirrored" {json.dumps(mirrored)[:40]} is not true or false')
    if "pose" not in value:
        raise _Invalid('no "pose" (the JSONL of rtnet pose has one on every line)')
    pose = None if value["pose"] is None else _pose(value["pose"])
    hands = value.get("hands", [])
    if not isinstance(hands, list):
        raise _Invalid('"hands" is not a list')
    return _Record(
        line, record_time, size, mirrored, pose, [_hand(hand, i) for i, hand in enumerate(hands)]
    )


def _pose(value: Any) -> PoseResult:
    if not isinstance(value, dict):
        raise _Invalid('"pose" is neither null nor an object')
    score = _number(value.get("score"), "pose score")
    landmarks = _points(value.get("landmarks"), POSE_POINTS, POSE_VALUES, "pose")
    unrecorded = np.full((POSE_POINTS, 3), np.nan, np.float32)
    return PoseResult(score, landmarks, unrecorded, _UNRECORDED_ROI)


def _hand(value: Any, index: int) -> HandResult:
    what = f"hand {index + 1}"
    if not isinstance(value, dict):
        raise _Invalid(f"{what} is not an object")
    handedness = value.get("handedness")
    if handedness not in HANDEDNESS:
        raise _Invalid(f'{what}: "handedness" {handedness!r} is not "Left" or "Right"')
    score = _number(value.get("score"), f"{what} score")
    landmarks = _points(value.get("landmarks"), HAND_POINTS, HAND_VALUES, what)
    unrecorded = np.full((HAND_POINTS, 3), np.nan, np.float32)
    return HandResult(handedness, score, math.nan, landmarks, unrecorded, _UNRECORDED_ROI)


def _points(value: Any, count: int, width: int, what: str) -> npt.NDArray[np.float32]:
    if not isinstance(value, list):
        raise _Invalid(f"{what} landmarks missing or not a list")
    if len(value) != count:
        raise _Invalid(f"{what} has {len(value)} landmarks, expected {count}")
    for i, point in enumerate(value):
        if not isinstance(point, list) or len(point) != width:
            raise _Invalid(f"{what} landmark {i} is not a list of {width} numbers")
        for number in point:
            _number(number, f"{what} landmark {i}")
    return np.array(value, np.float32)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f"{what} is {json.dumps(value)[:40]}, not a number")
    if not math.isfinite(value):  # 1e999 reads as infinity
        raise _Invalid(f"{what} is not a finite number")
    return float(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _size(value: Any) -> tuple[int, int]:
    if not isinstance(value, list) or len(value) != 2 or not all(_is_int(v) for v in value):
        raise _Invalid('"size" is not [width, height] in whole pixels')
    size = (value[0], value[1])
    _check_size(size, '"size"', _Invalid)
    return size


def _check_size(size: tuple[int, int], what: str, error: type[Exception] = SourceError) -> None:
    if not all(1 <= side <= MAX_FRAME_SIDE for side in size):
        raise error(f"{what} {_size_text(size)}: each side must be 1 to {MAX_FRAME_SIDE} pixels")


def _size_text(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _refuse_constant(name: str) -> NoReturn:
    raise _Invalid(f"{name} is not a finite number")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise SourceError(f"landmarks file not found: {path}")
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        raise SourceError(f"not a landmarks file: {path} is a directory")
    if not stat.S_ISREG(mode):
        raise SourceError(f"not a landmarks file: {path} is not a regular file")
    if not os.access(path, os.R_OK):
        raise SourceError(f"cannot read landmarks file {path}: permission denied")
    if path.stat().st_size == 0:
        raise SourceError(f"{path} line 1: the landmarks file is empty")
