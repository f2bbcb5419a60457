"""``--precision auto``: bf16 only where it is faster than fp32 and agrees with it.

Native bf16 is not always a win on a CPU: on an Intel Xeon with avx512_bf16 but no AMX, an
efficientnet step took 78 ms in bf16 against 66 ms in (fast) fp32. So ``auto`` measures, once per
machine and model: a few steps of each precision on the same random clips, in the thread that
loads the network. The measurement is cached in the user cache dir, keyed by the CPU (model and
flags), the torch version and the model, and the choice (:func:`decide`) is made from it on each
run, so that changing the rule needs no new measurement.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rtnet.resample import STEP_FRAMES

if TYPE_CHECKING:
    import torch

Precision = Literal["fp32", "bf16"]
PrecisionOption = Literal["auto", "fp32", "bf16"]
PRECISION_OPTIONS: tuple[PrecisionOption, ...] = ("auto", "fp32", "bf16")
DEFAULT_PRECISION: PrecisionOption = "auto"

# bf16 must be clearly faster: within 5% the two are the same speed, and fp32 is exact.
MIN_SPEEDUP = 1.05
# Agreement of the features (what the heads see): the largest difference, relative to the largest
# fp32 feature, and the most active channel of the pooled features, step by step. The backbones'
# own mixed precision stays well inside both (see StreamingBackbone._fast_dtype).
MAX_FEATURE_DIFF = 0.05
MIN_TOP1_AGREEMENT = 1.0
WARMUP_STEPS = 2  # oneDNN builds its kernels on the first calls
TIMED_STEPS = 5
CAMERA_WIDTH, CAMERA_HEIGHT = 320, 240  # random frames of a camera's shape: any size will do
CACHE_FORMAT = 1

log = logging.getLogger("rtnet")


@dataclass(frozen=True)
class Measurement:
    """fp32 against bf16 on the same clips: median ms per step, and how far the features differ."""

    fp32_ms: float
    bf16_ms: float
    max_diff: float  # max |bf16 - fp32| over the features, relative to max |fp32|
    top1_agreement: float  # fraction of steps whose most active pooled channel is the same

    @property
    def speedup(self) -> float:
        """How many times faster bf16 is (below 1: slower)."""
        return self.fp32_ms / self.bf16_ms


@dataclass(frozen=True)
class PrecisionChoice:
    precision: Precision
    why: str

    @property
    def reason(self) -> str:
        """The line the UI shows: ``precision: fp32 (auto: bf16 1.2x slower here)``."""
        return f"precision: {self.precision} ({self.why})"


def decide(measured: Measurement) -> PrecisionChoice:
    """bf16 where it is at least MIN_SPEEDUP faster and its features agree with fp32's."""
    speedup = measured.speedup
    if speedup < MIN_SPEEDUP:
        pace = f"{1 / speedup:.2g}x slower" if speedup < 1 else "no faster"
        return PrecisionChoice("fp32", f"auto: bf16 {pace} here")
    if measured.max_diff > MAX_FEATURE_DIFF or measured.top1_agreement < MIN_TOP1_AGREEMENT:
        return PrecisionChoice(
            "fp32",
            f"auto: bf16 {speedup:.2g}x faster but disagrees: features differ by up to "
            f"{measured.max_diff:.1%}, top-1 agrees on {measured.top1_agreement:.0%} of steps",
        )
    return PrecisionChoice(
        "bf16",
        f"auto: {speedup:.2g}x faster than fp32 here, features within {measured.max_diff:.1%}",
    )


# ---------------------------------------------------------------------------------------------
# The cache


def machine_fingerprint() -> str:
    """The CPU (model name and flags, which decide the kernels) and the torch version."""
    import torch

    model, flags = _cpu_description()
    digest = hashlib.sha256(flags.encode()).hexdigest()[:12]
    return f"{model} flags:{digest} torch:{torch.__version__}"


def _cpu_description() -> tuple[str, str]:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: the platform's name for the processor, without flags
        import platform

        return platform.processor() or platform.machine(), ""
    fields: dict[str, str] = {}
    for line in info.splitlines():
        name, _, value = line.partition(":")
        fields.setdefault(name.strip(), value.strip())
    return fields.get("model name", "unknown cpu"), fields.get("flags", "")


def default_cache_path() -> Path:
    import platformdirs

    return platformdirs.user_cache_path("rtnet") / "precision.json"


class PrecisionCache:
    """Measurements by key (machine + model), in one JSON file. A missing, unreadable or
    outdated file is an empty cache: it only costs a new measurement."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else default_cache_path()

    def _entries(self) -> dict[str, dict[str, float]]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict) or raw.get("format") != CACHE_FORMAT:
            return {}
        entries = raw.get("entries")
        return entries if isinstance(entries, dict) else {}

    def get(self, key: str) -> Measurement | None:
        entry = self._entries().get(key)
        try:
            return Measurement(**entry) if isinstance(entry, dict) else None
        except TypeError:  # fields of another version
            return None

    def put(self, key: str, measured: Measurement) -> None:
        entries = self._entries()
        entries[key] = asdict(measured)
        text = json.dumps({"format": CACHE_FORMAT, "entries": entries}, indent=2) + "\n"
        # Written whole and renamed over: two runs at once never leave half a file.
        staging = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            staging.write_text(text, encoding="utf-8")
            os.replace(staging, self.path)
        except OSError as err:  # a read-only home: measure again next time, say why once
            log.debug("precision cache not written to %s: %s", self.path, err)
            with contextlib.suppress(OSError):
                staging.unlink()


def cache_key(model: str, machine: str | None = None) -> str:
    return f"{machine if machine is not None else machine_fingerprint()} | {model}"


# ---------------------------------------------------------------------------------------------
# Measuring

Features = Callable[["torch.Tensor"], "torch.Tensor"]


def measure(
    build: Callable[[Precision], Features],
    *,
    clock: Callable[[], float] = time.perf_counter,
    warmup: int = WARMUP_STEPS,
    steps: int = TIMED_STEPS,
    seed: int = 0,
) -> Measurement:
    """Runs ``build("fp32")`` and ``build("bf16")`` (clip -> features) on the same random clips,
    step by step in turn (so both see the same machine load), and compares their features."""
    import numpy as np
    import torch

    from rtnet import FrameRing

    networks = {precision: build(precision) for precision in ("fp32", "bf16")}
    random = np.random.default_rng(seed)
    ring = FrameRing(STEP_FRAMES)  # clips as the engine makes them (its size, its layout)
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    max_diff, scale, agree = 0.0, 0.0, 0
    for index in range(warmup + steps):
        for _ in range(STEP_FRAMES):
            ring.push(random.integers(0, 256, (CAMERA_HEIGHT, CAMERA_WIDTH, 3), dtype=np.uint8))
        clip = torch.from_numpy(ring.clip())
        features = {}
        for precision, network in networks.items():
            start = clock()
            features[precision] = network(clip).float()
            if index >= warmup:
                times[precision].append(clock() - start)
        exact, rounded = features["fp32"], features["bf16"]
        max_diff = max(max_diff, float((rounded - exact).abs().max()))
        scale = max(scale, float(exact.abs().max()))
        pooled = [f.mean(dim=(-1, -2)).flatten() for f in (exact, rounded)]
        agree += int(pooled[0].argmax() == pooled[1].argmax())
    return Measurement(
        fp32_ms=1e3 * statistics.median(times["fp32"]),
        bf16_ms=1e3 * statistics.median(times["bf16"]),
        max_diff=max_diff / scale if scale > 0 else max_diff,
        top1_agreement=agree / (warmup + steps),
    )


def choose_precision(
    requested: PrecisionOption,
    *,
    model: str,
    build: Callable[[Precision], Features],
    bf16_native: bool,
    cache: PrecisionCache | None = None,
) -> PrecisionChoice:
    """The precision to run ``model`` in: as requested, or for ``auto`` from the cached or a new
    measurement (``build`` makes the clip -> features function of a precision)."""
    if requested != "auto":
        return PrecisionChoice(requested, f"--precision {requested}")
    if not bf16_native:
        return PrecisionChoice("fp32", "auto: no native bf16 here")
    cache = cache if cache is not None else PrecisionCache()
    key = cache_key(model)
    measured = cache.get(key)
    if measured is None:
        measured = measure(build)
        cache.put(key, measured)
    return decide(measured)
