"""Backbones: plain eager vs fast fp32 vs bf16, timed side by side, and how closely the fast
paths' features and head outputs follow the plain path's."""

from __future__ import annotations

import multiprocessing
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rtnet.bench.common import NETWORK_HEADS, BenchWeights, clips_of
from rtnet.resample import STEP_FRAMES

if TYPE_CHECKING:
    import torch

    from rtnet.models import BackboneName, Precision


@dataclass(frozen=True)
class Variant:
    """One way to run a backbone."""

    name: str
    fast: bool
    precision: Precision


VARIANTS = (
    Variant("plain", False, "fp32"),
    Variant("fast", True, "fp32"),
    Variant("bf16", True, "bf16"),
)


def machine_variants() -> tuple[list[Variant], str | None]:
    """The variants this machine runs, and why bf16 is left out (if it is)."""
    from rtnet.models import bf16_supported

    if bf16_supported():
        return list(VARIANTS), None
    return [v for v in VARIANTS if v.precision == "fp32"], "no native bf16 on this CPU"


@dataclass(frozen=True)
class VariantTiming:
    """Milliseconds per 4-frame step of one variant (median and best of the rounds)."""

    variant: str
    ms_per_step: float
    min_ms: float
    frames_per_s: float
    speedup: float  # over the plain path, from the same rounds


@dataclass(frozen=True)
class BackboneTiming:
    network: BackboneName
    steps: int
    variants: tuple[VariantTiming, ...]


def bench_backbone(
    weights: BenchWeights,
    networks: Sequence[BackboneName],
    steps: int = 10,
    warmup: int = 2,
    threads: int | None = None,
) -> list[BackboneTiming]:
    """Each network timed in a fresh process, as an app runs it: the plain path's speed depends
    on what the allocator already holds (after efficientnet, mobilenet's plain path reuses freed
    heap instead of faulting in fresh pages, and runs twice as fast)."""
    spawn = multiprocessing.get_context("spawn")
    timings = []
    for network in networks:
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            job = pool.submit(time_backbone, weights, network, steps, warmup, threads)
            timings.append(job.result())
    return timings


def time_backbone(
    weights: BenchWeights, network: BackboneName, steps: int, warmup: int, threads: int | None
) -> BackboneTiming:
    """Every round runs one step of each variant in turn (ABCABC...), so load from elsewhere on
    the machine hits all variants alike."""
    import torch

    from rtnet.models import build_backbone

    if threads is not None:
        torch.set_num_threads(threads)
    variants, _ = machine_variants()
    clip = torch.from_numpy(np.random.default_rng(1).random((4, 3, 256, 256), dtype=np.float32))
    models = {
        v.name: build_backbone(
            network, weights.backbone(network), fast=v.fast, precision=v.precision
        )
        for v in variants
    }
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(warmup):  # first calls pack weights and allocate buffers
        for model in models.values():
            model(clip)
    for _ in range(steps):
        for name, model in models.items():
            start = time.perf_counter()
            model(clip)
            times[name].append((time.perf_counter() - start) * 1e3)
    plain = statistics.median(times["plain"])
    return BackboneTiming(
        network,
        steps,
        tuple(
            VariantTiming(
                name,
                ms_per_step=statistics.median(samples),
                min_ms=min(samples),
                frames_per_s=STEP_FRAMES * 1e3 / statistics.median(samples),
                speedup=plain / statistics.median(samples),
            )
            for name, samples in times.items()
        ),
    )


@dataclass(frozen=True)
class HeadAgreement:
    """One head's outputs under a variant against the plain path's, over a stream of steps."""

    kind: str
    steps: int
    max_abs_diff: float  # probabilities, or MET for the regressor
    same_top1: int | None  # steps with the same top-1 class (None for the MET regressor)
    top1_agreement: float | None  # same_top1 / steps


@dataclass(frozen=True)
class VariantAgreement:
    variant: str
    feature_max_abs_diff: float
    heads: tuple[HeadAgreement, ...]


@dataclass(frozen=True)
class NetworkAgreement:
    network: BackboneName
    clips: int
    variants: tuple[VariantAgreement, ...]  # every variant but the plain one

    def variant(self, name: str) -> VariantAgreement:
        return next(v for v in self.variants if v.variant == name)


def compare_outputs(
    variant: str, plain: Mapping[str, np.ndarray], other: Mapping[str, np.ndarray]
) -> VariantAgreement:
    """``other`` against ``plain``: per key, an array of one row per step ("features", and one
    per head; "met" is the regressor, every other head a classifier)."""
    heads = []
    for kind in plain:
        if kind == "features":
            continue
        diff = float(np.abs(other[kind] - plain[kind]).max())
        if kind == "met":
            heads.append(HeadAgreement(kind, len(plain[kind]), diff, None, None))
            continue
        same = other[kind].argmax(axis=1) == plain[kind].argmax(axis=1)
        heads.append(HeadAgreement(kind, int(same.size), diff, int(same.sum()), float(same.mean())))
    features = float(np.abs(other["features"] - plain["features"]).max())
    return VariantAgreement(variant, features, tuple(heads))


def bench_agreement(
    weights: BenchWeights, frames: Sequence[np.ndarray], network: BackboneName
) -> NetworkAgreement:
    """Every variant this machine runs over the clips of ``frames``, against the plain path."""
    outputs = {
        variant.name: run_variant(weights, network, variant, frames)
        for variant in machine_variants()[0]
    }
    plain = outputs.pop("plain")
    return NetworkAgreement(
        network,
        len(plain["features"]),
        tuple(compare_outputs(name, plain, other) for name, other in outputs.items()),
    )


def run_variant(
    weights: BenchWeights, network: BackboneName, variant: Variant, frames: Sequence[np.ndarray]
) -> dict[str, np.ndarray]:
    """The features and head outputs of each step of ``frames``, one row per step."""
    from rtnet.models import build_backbone, build_head
    from rtnet.network import BackboneNetwork

    backbone = build_backbone(
        network, weights.backbone(network), fast=variant.fast, precision=variant.precision
    )
    heads: dict[str, torch.nn.Module] = {
        kind: build_head(kind, weights.file(network, kind)) for kind in NETWORK_HEADS[network]
    }
    features: list[np.ndarray] = []
    backbone.register_forward_hook(_collector(features))
    net = BackboneNetwork(backbone, heads)
    steps = [net(clip) for clip in clips_of(frames, net.channels)]
    return {kind: np.stack([step[kind] for step in steps]) for kind in heads} | {
        "features": np.concatenate(features)
    }


def _collector(store: list[np.ndarray]) -> Callable[..., None]:
    """A forward hook keeping a copy of each output (the features, next to the head outputs)."""

    def hook(module: object, inputs: object, output: torch.Tensor) -> None:
        store.append(output.float().numpy().copy())

    return hook
