"""Resampling a timestamped frame stream to the model's fixed 16 frames per second.

Tick ``k`` happens at ``k / rate`` seconds of stream time and takes the latest frame whose
timestamp is at or before it: a 32 fps stream keeps every other frame, a 16 fps stream keeps every
frame, a 12 fps stream repeats some. The resampler is pure (no clock, no I/O), so files resample
deterministically and a camera can feed it wall-clock timestamps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

MODEL_FPS = 16.0
# Containers store timestamps rounded to the millisecond (a 16 fps frame at 62.5 ms reads back as
# 63 ms), so a frame counts as "at or before" a tick when it is at most this late.
TIMESTAMP_TOLERANCE_S = 0.001


@dataclass(frozen=True)
class Tick:
    """One model frame: tick ``index`` at ``time`` seconds of stream time."""

    index: int
    time: float
    frame: np.ndarray  # BGR uint8 (H, W, 3)


class TickResampler:
    """Turns frames with timestamps into ticks at ``rate`` per second.

    A tick can only be settled once a later frame (or the end of the stream) shows that no newer
    frame belongs to it, so ``push`` returns the ticks that the new frame's timestamp settles.
    Timestamps are taken relative to the first frame, which is at stream time 0.
    """

    def __init__(self, rate: float = MODEL_FPS, tolerance: float = TIMESTAMP_TOLERANCE_S) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.tolerance = tolerance
        self._origin: float | None = None
        self._latest: np.ndarray | None = None
        self._latest_time = 0.0
        self._next_tick = 0

    @property
    def ticks_emitted(self) -> int:
        return self._next_tick

    def tick_time(self, index: int) -> float:
        return index / self.rate

    def push(self, frame: np.ndarray, timestamp: float) -> list[Tick]:
        """Add the next frame (``timestamp`` in seconds, non-decreasing); return settled ticks."""
        if self._origin is None:
            self._origin = timestamp
        time = timestamp - self._origin
        # A timestamp going backwards (broken container) must not reorder ticks: clamp it.
        time = max(time, self._latest_time)
        settled = list(self._settle_before(time)) if self._latest is not None else []
        self._latest, self._latest_time = frame, time
        return settled

    def finish(self, end_time: float) -> list[Tick]:
        """End of stream: the last frame lasts until ``end_time`` (seconds after the first)."""
        if self._latest is None:
            return []
        return list(self._settle_before(end_time))

    def finish_after_last(self, frame_duration: float) -> list[Tick]:
        """End of stream where the last frame lasts ``frame_duration`` seconds."""
        return self.finish(self._latest_time + frame_duration)

    def _settle_before(self, time: float) -> Iterator[Tick]:
        # Ticks strictly before ``time`` (within tolerance) can no longer get a newer frame.
        assert self._latest is not None
        while self.tick_time(self._next_tick) + self.tolerance < time:
            yield Tick(self._next_tick, self.tick_time(self._next_tick), self._latest)
            self._next_tick += 1
