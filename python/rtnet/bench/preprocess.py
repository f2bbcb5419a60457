"""Preprocessing: the Rust FrameRing against the naive NumPy+OpenCV path, in the same run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtnet import FrameRing
from rtnet.bench.common import median_ms
from rtnet.resample import STEP_FRAMES

SIZE = 256


class NaivePreprocessor:
    """What a straightforward Python pipeline does per frame: pad with copyMakeBorder, resize,
    roll a float64 (1, 4, 256, 256, 3) clip, then flip channels, scale and transpose it."""

    def __init__(self) -> None:
        self.clip = np.zeros((1, STEP_FRAMES, SIZE, SIZE, 3), dtype=np.float64)

    def push(self, frame: np.ndarray) -> np.ndarray:
        import cv2  # here, so that `rtnet --help` does not load OpenCV

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


@dataclass(frozen=True)
class PreprocessResult:
    """Per-frame milliseconds (medians): the naive path, ``FrameRing.push`` alone, and push plus
    the ``clip()`` copy every 4 frames, as the engine uses it."""

    frames: int
    width: int
    height: int
    naive_ms: float
    ring_ms: float
    ring_with_clip_ms: float
    ratio: float  # speed-up of push alone
    ratio_with_clip: float


def bench_preprocess(frames: int = 200, width: int = 640, height: int = 480) -> PreprocessResult:
    rng = np.random.default_rng(0)
    inputs = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(8)]

    naive = NaivePreprocessor()
    naive_ms = median_ms(lambda i: naive.push(inputs[i % len(inputs)]), frames)

    ring = FrameRing(STEP_FRAMES)
    ring_ms = median_ms(lambda i: ring.push(inputs[i % len(inputs)]), frames)

    def push_and_clip(group: int) -> None:
        for k in range(STEP_FRAMES):
            ring.push(inputs[(group * STEP_FRAMES + k) % len(inputs)])
        ring.clip()

    # Median per group of 4 frames, so the clip copy is counted, then per frame.
    groups = max(1, frames // STEP_FRAMES)
    ring_with_clip_ms = median_ms(push_and_clip, groups) / STEP_FRAMES
    return PreprocessResult(
        frames,
        width,
        height,
        naive_ms,
        ring_ms,
        ring_with_clip_ms,
        ratio=naive_ms / ring_ms,
        ratio_with_clip=naive_ms / ring_with_clip_ms,
    )
