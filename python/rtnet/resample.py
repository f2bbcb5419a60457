"""Resampling a timestamped frame stream to the model's fixed 16 frames per second.

Tick ``k`` happens at ``k / rate`` seconds of stream time and takes the latest frame whose
timestamp is at or before it: a 32 fps stream keeps every other frame, a 16 fps stream keeps every
frame, a 12 fps stream repeats some. The resampler is pure (no clock, no I/O), so files resample
deterministically and a camera can feed it wall-clock timestamps.

Ticks come out lazily (an iterator, never a list), and a gap between two frames longer than
``MAX_GAP_S`` is refused: a broken timestamp in a tiny file must not turn into hours of repeated
frames, or into gigabytes of memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

MODEL_FPS = 16.0
# The networks take clips of this many frames and give one output per clip (two temporal strides
# of 2): a model step is STEP_FRAMES / MODEL_FPS = 0.25 s of stream.
STEP_FRAMES = 4
# Containers store timestamps rounded to the millisecond (a 16 fps frame at 62.5 ms reads back as
# 63 ms), so a frame counts as "at or before" a tick when it is at most this late.
TIMESTAMP_TOLERANCE_S = 0.001
# No real recording holds one frame for 10 minutes; a longer gap is a broken timestamp (or a
# header claiming a frame rate below 1/600 fps) and would be 9,600 ticks of the same frame.
MAX_GAP_S = 600.0


class TimestampGapError(ValueError):
    """Two consecutive frames (or the last frame and the stream's end) are too far apart."""

    def __init__(self, at: float, gap: float, limit: float) -> None:
        super().__init__(
            f"{gap:.6g} s without a frame after {at:.6g} s of stream "
            f"(more than {limit:g} s: a broken timestamp?)"
        )
        self.at = at
        self.gap = gap
        self.limit = limit


@dataclass(frozen=True)
class Tick:
    """One model frame: tick ``index`` at ``time`` seconds of stream time."""

    index: int
    time: float
    frame: np.ndarray  # BGR uint8 (H, W, 3)


def ticks_before(
    time: float, rate: float = MODEL_FPS, tolerance: float = TIMESTAMP_TOLERANCE_S
) -> int:
    """How many ticks fall strictly before ``time`` (within ``tolerance``): the number of ticks a
    stream ending at ``time`` produces. The one formula behind both the resampler and the
    progress bar's total."""
    if not time > 0:
        return 0
    count = max(0, math.ceil((time - tolerance) * rate))
    # The closed form may be off by one in floating point: settle it with the exact test.
    while count > 0 and not (count - 1) / rate + tolerance < time:
        count -= 1
    while count / rate + tolerance < time:
        count += 1
    return count


class TickResampler:
    """Turns frames with timestamps into ticks at ``rate`` per second.

    A tick can only be settled once a later frame (or the end of the stream) shows that no newer
    frame belongs to it, so ``push`` returns the ticks that the new frame's timestamp settles.
    Timestamps are taken relative to the first frame, which is at stream time 0.

    The returned iterators are lazy (memory does not depend on the gap they cover) and
    independent of later calls: the resampler's state is updated when ``push`` returns.
    """

    def __init__(
        self,
        rate: float = MODEL_FPS,
        tolerance: float = TIMESTAMP_TOLERANCE_S,
        max_gap: float = MAX_GAP_S,
    ) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.tolerance = tolerance
        self.max_gap = max_gap
        self._origin: float | None = None
        self._latest: np.ndarray | None = None
        self._latest_time = 0.0
        self._next_tick = 0

    @property
    def ticks_emitted(self) -> int:
        """Ticks settled so far (handed out by ``push``/``finish``)."""
        return self._next_tick

    def tick_time(self, index: int) -> float:
        return index / self.rate

    def push(self, frame: np.ndarray, timestamp: float) -> Iterator[Tick]:
        """Add the next frame (``timestamp`` in seconds, non-decreasing); return settled ticks.

        Raises ``TimestampGapError`` when the frame comes more than ``max_gap`` after the previous
        one, and ``ValueError`` for a timestamp that is not a finite number."""
        if not math.isfinite(timestamp):
            raise ValueError(f"frame timestamp {timestamp} is not a finite number")
        if self._origin is None:
            self._origin = timestamp
        time = timestamp - self._origin
        # A timestamp going backwards (broken container) must not reorder ticks: clamp it.
        time = max(time, self._latest_time)
        settled = self._settle_before(time) if self._latest is not None else iter(())
        self._latest, self._latest_time = frame, time
        return settled

    def finish(self, end_time: float) -> Iterator[Tick]:
        """End of stream: the last frame lasts until ``end_time`` (seconds after the first)."""
        if self._latest is None:
            return iter(())
        return self._settle_before(end_time)

    def finish_after_last(self, frame_duration: float) -> Iterator[Tick]:
        """End of stream where the last frame lasts ``frame_duration`` seconds."""
        return self.finish(self._latest_time + frame_duration)

    def _settle_before(self, time: float) -> Iterator[Tick]:
        # Ticks strictly before ``time`` (within tolerance) can no longer get a newer frame.
        assert self._latest is not None
        gap = time - self._latest_time
        if gap > self.max_gap:
            raise TimestampGapError(self._latest_time, gap, self.max_gap)
        first, end = (
            self._next_tick,
            max(self._next_tick, ticks_before(time, self.rate, self.tolerance)),
        )
        self._next_tick = end
        return _ticks(first, end, self.rate, self._latest)


def _ticks(first: int, end: int, rate: float, frame: np.ndarray) -> Iterator[Tick]:
    for index in range(first, end):
        yield Tick(index, index / rate, frame)
