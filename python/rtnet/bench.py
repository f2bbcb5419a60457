"""Benchmarks (not timed tests): the Rust preprocessing ring against the naive NumPy+OpenCV path."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np

from rtnet import FrameRing

CLIP_FRAMES = 4
SIZE = 256


class NaivePreprocessor:
    """What a straightforward Python pipeline does per frame: pad with copyMakeBorder, resize,
    roll a float64 (1, 4, 256, 256, 3) clip, then flip channels, scale and transpose it."""

    def __init__(self) -> None:
        self.clip = np.zeros((1, CLIP_FRAMES, SIZE, SIZE, 3), dtype=np.float64)

    def push(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        side = max(height, width)
        top, left = (side - height) // 2, (side - width) // 2
        square = cv2.copyMakeBorder(
            frame, top, side - height - top, left, side - width - left, cv2.BORDER_CONSTANT, value=0
        )
        resized = cv2.resize(square, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
        self.clip = np.roll(self.clip, -1, axis=1)
        self.clip[0, -1] = resized
        return (self.clip[..., ::-1] / 255.0).transpose(0, 1, 4, 2, 3)


def _median_ms(step: Callable[[int], object], frames: int, warmup: int = 5) -> float:
    """Median wall time of `step(i)` in milliseconds (the median shrugs off a busy neighbour)."""
    for i in range(warmup):
        step(i)
    times = []
    for i in range(frames):
        start = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def bench_preprocess(frames: int = 200, width: int = 640, height: int = 480) -> dict[str, float]:
    """Per-frame milliseconds of FrameRing.push against the naive path, in the same run.

    Returns `naive_ms`, `ring_ms` (push only), `ring_with_clip_ms` (push plus the clip() copy
    every 4 frames, as the engine uses it), and the speed-ups `ratio` and `ratio_with_clip`.
    """
    rng = np.random.default_rng(0)
    inputs = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(8)]

    naive = NaivePreprocessor()
    naive_ms = _median_ms(lambda i: naive.push(inputs[i % len(inputs)]), frames)

    ring = FrameRing(CLIP_FRAMES)
    ring_ms = _median_ms(lambda i: ring.push(inputs[i % len(inputs)]), frames)

    def push_and_clip(i: int) -> None:
        ring.push(inputs[i % len(inputs)])
        if i % CLIP_FRAMES == CLIP_FRAMES - 1:
            ring.clip()

    # Median per group of 4 frames, so the clip copy is counted, then per frame.
    groups = max(1, frames // CLIP_FRAMES)
    ring_with_clip_ms = (
        _median_ms(
            lambda g: [push_and_clip(g * CLIP_FRAMES + k) for k in range(CLIP_FRAMES)], groups
        )
        / CLIP_FRAMES
    )
    return {
        "frames": frames,
        "width": width,
        "height": height,
        "naive_ms": naive_ms,
        "ring_ms": ring_ms,
        "ring_with_clip_ms": ring_with_clip_ms,
        "ratio": naive_ms / ring_ms,
        "ratio_with_clip": naive_ms / ring_with_clip_ms,
    }


if __name__ == "__main__":
    for key, value in bench_preprocess().items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
