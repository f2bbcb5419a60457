"""What every benchmark section shares: the networks measured, the weights they run on, and the
frames they see."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from rtnet import FrameRing
from rtnet.resample import STEP_FRAMES

if TYPE_CHECKING:
    from rtnet.models import BackboneName, HeadKind

NETWORKS: tuple[BackboneName, ...] = ("efficientnet", "mobilenet")
# Heads each network's agreement is measured on: those its default app runs.
NETWORK_HEADS: dict[BackboneName, tuple[HeadKind, ...]] = {
    "efficientnet": ("gestures", "reps"),
    "mobilenet": ("fitness", "met"),
}
VIDEO_SIZE = (640, 480)  # width, height of the synthetic video


def median_ms(step: Callable[[int], object], repeats: int, warmup: int = 5) -> float:
    """Median wall time of ``step(i)`` in milliseconds (the median shrugs off a busy neighbour)."""
    for i in range(warmup):
        step(i)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


@dataclass(frozen=True)
class BenchWeights:
    """The weights folder a benchmark runs on: the user's SenseKit files, or stand-ins."""

    root: Path
    standin: bool
    note: str

    def backbone(self, network: BackboneName) -> Path:
        return self.file(network, "backbone")

    def file(self, network: BackboneName, kind: HeadKind | str) -> Path:
        from rtnet.weights import WEIGHT_FILES

        return self.root / WEIGHT_FILES[(network, "pro")][kind][0]  # type: ignore[index]


def bench_weights(
    weights_dir: str | Path | None, scratch: Path, networks: Sequence[BackboneName] = NETWORKS
) -> BenchWeights:
    """The user's SenseKit weights when every file the benchmark needs is found (same search as
    the apps); otherwise stand-ins (fixed seed) written to ``scratch``."""
    from rtnet.standin import write_standin_weights
    from rtnet.weights import WEIGHT_FILES, find_file, weights_search_path

    needed = [
        (network, kind) for network in networks for kind in ("backbone", *NETWORK_HEADS[network])
    ]
    missing = ""
    for entry in weights_search_path(weights_dir):
        absent = [
            WEIGHT_FILES[(network, "pro")][kind][0]  # type: ignore[index]
            for network, kind in needed
            if find_file(entry.path, WEIGHT_FILES[(network, "pro")][kind]) is None  # type: ignore[index]
        ]
        if not absent:
            return BenchWeights(entry.path, False, f"SenseKit weights from {entry}")
        missing = missing or f"{absent[0]} not in {entry}"
    root = scratch / "weights"
    for network in networks:
        names = WEIGHT_FILES[(network, "pro")]
        files = {kind: Path(names[kind][0]) for kind in ("backbone", *NETWORK_HEADS[network])}  # type: ignore[index]
        write_standin_weights(root, files, network, NETWORK_HEADS[network])
    return BenchWeights(
        root,
        True,
        f"stand-in weights ({missing}): speed is the same as with the SenseKit weights, "
        "predictions are meaningless",
    )


def read_frames(video: Path, limit: int) -> list[np.ndarray]:
    """Up to ``limit`` BGR frames of ``video``."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    while len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def synthetic_frames(count: int) -> list[np.ndarray]:
    """BGR frames of a moving scene: a textured square gliding over a gradient."""
    width, height = VIDEO_SIZE
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)
    ramp = np.linspace(0, 255, width, dtype=np.float32)
    background = np.broadcast_to(ramp[None, :, None], (height, width, 3)).astype(np.uint8)
    frames = []
    for index in range(count):
        frame = background.copy()
        x = int((width - 120) * (0.5 + 0.5 * np.sin(index / 6)))
        y = int((height - 120) * (0.5 + 0.5 * np.cos(index / 9)))
        frame[y : y + 120, x : x + 120] = texture
        frames.append(frame)
    return frames


def clips_of(frames: Sequence[np.ndarray], channels: Literal["rgb", "bgr"]) -> list[np.ndarray]:
    """The clips the engine hands a network taking ``channels``: every 4 frames, the last 4."""
    ring = FrameRing(STEP_FRAMES, channels=channels)
    clips = []
    for index, frame in enumerate(frames):
        ring.push(frame)
        if index % STEP_FRAMES == STEP_FRAMES - 1:
            clips.append(ring.clip())
    return clips
