"""The built-in landmark networks against what a user would run instead: MediaPipe's own .tflite
files under LiteRT (XNNPACK, the same number of threads), per frame, interleaved in one run."""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rtnet.errors import ConfigError

if TYPE_CHECKING:
    from rtnet.models.landmarks import LandmarkModelName

# The networks the pose tracker runs on every frame (the detector only when tracking is lost).
POSE_NETWORKS: tuple[LandmarkModelName, ...] = ("pose_landmarks", "pose_detector")
INPUT_SIZES: dict[LandmarkModelName, int] = {"pose_landmarks": 256, "pose_detector": 224}
SETTLE_S = 0.1  # between blocks: both runtimes' worker threads asleep again
BLOCK = 5  # timed frames of one runtime in a row
WARMUP = 3
ROUNDS = 60  # timed frames of each; fewer left the medians at the mercy of a busy moment


@dataclass(frozen=True)
class LandmarkTiming:
    """Median milliseconds per frame; ``ratio`` > 1 means rtnet's module is the faster."""

    network: str
    rtnet_ms: float
    litert_ms: float | None

    @property
    def ratio(self) -> float | None:
        return None if self.litert_ms is None else self.litert_ms / self.rtnet_ms


@dataclass(frozen=True)
class PoseNetworks:
    timings: list[LandmarkTiming]
    threads: int
    frames: int  # timed per network and runtime
    kernels: str  # the code rtnet's kernels ran: avx512, avx2+fma or portable
    litert: str  # what LiteRT ran, or why it did not


def _timed_ms(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1e3


def _litert(
    tflite: Path | None, threads: int
) -> tuple[dict[LandmarkModelName, Callable[..., object]], str]:
    """A runner per network from MediaPipe's files, or none and the reason."""
    if tflite is None:
        return {}, "not measured: pass --tflite with the mediapipe 0.10.14 wheel or its files"
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return {}, "not measured: ai-edge-litert is not installed (pip install ai-edge-litert)"
    from rtnet.models.landmarks import mediapipe_files

    try:
        files = dict(mediapipe_files(tflite))
    except (OSError, KeyError, ValueError) as err:
        raise ConfigError(f"--tflite {tflite}: {err}") from None
    runners: dict[LandmarkModelName, Callable[..., object]] = {}
    for name in POSE_NETWORKS:
        interpreter = Interpreter(model_content=files[name], num_threads=threads)
        interpreter.allocate_tensors()
        index = interpreter.get_input_details()[0]["index"]

        def run(x: np.ndarray, interpreter: Interpreter = interpreter, index: int = index) -> None:
            interpreter.set_tensor(index, x)
            interpreter.invoke()

        runners[name] = run
    return runners, f"LiteRT XNNPACK, {threads} threads"


def bench_pose_networks(tflite: Path | None, rounds: int = ROUNDS) -> PoseNetworks:
    """rtnet's modules (fast fp32, as `rtnet pose` runs them) and LiteRT on the same inputs."""
    import torch

    from rtnet.models import build_landmark_model

    threads = torch.get_num_threads()
    litert, note = _litert(tflite, threads)
    rng = np.random.default_rng(0)
    timings = []
    for name in POSE_NETWORKS:
        size = INPUT_SIZES[name]
        x = rng.random((1, size, size, 3), dtype=np.float32)
        model = build_landmark_model(name)
        tensor = torch.from_numpy(x)

        def run_torch(model: torch.nn.Module = model, tensor: torch.Tensor = tensor) -> None:
            with torch.inference_mode():
                model(tensor)

        other = litert.get(name)
        for _ in range(WARMUP):
            run_torch()
            if other is not None:
                other(x)
        # Interleaved blocks of BLOCK frames: load on the machine falls on both alike, and each
        # runs as in a stream of frames. A block starts once the other's idle threads have gone
        # to sleep (PyTorch's OpenMP threads spin for a while after each call, and took a core
        # from LiteRT's next frame: 14.6 ms instead of 8-9 when frames alternated), with an
        # untimed frame that wakes its own threads.
        ours: list[float] = []
        theirs: list[float] = []
        runners: list[tuple[Callable[[], object], list[float]]] = [(run_torch, ours)]
        if other is not None:
            runners.append((functools.partial(other, x), theirs))
        for _ in range(max(1, rounds // BLOCK)):
            for run, times in runners:
                time.sleep(SETTLE_S)
                run()
                times += [_timed_ms(run) for _ in range(BLOCK)]
        timings.append(
            LandmarkTiming(
                name,
                statistics.median(ours),
                statistics.median(theirs) if theirs else None,
            )
        )
    from rtnet._core import kernel_instructions

    frames = max(1, rounds // BLOCK) * BLOCK
    return PoseNetworks(timings, threads, frames, kernel_instructions(), note)
