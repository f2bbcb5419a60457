"""Benchmarks (``rtnet bench``), not timed tests.

- preprocessing: the Rust preprocessing ring against the naive NumPy+OpenCV path;
- backbones: plain eager vs fast fp32 vs bf16, ms per step, interleaved in one run, with how
  closely the fast paths agree with the plain one;
- end to end: an app on a video file in a child process, frames/s and peak memory.

With no SenseKit weights around, the networks run on stand-in weights written to a temporary
folder (speed does not depend on the weight values; the output says so).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rtnet import FrameRing
from rtnet.errors import ConfigError, RtnetError

if TYPE_CHECKING:
    import torch
    from rich.console import Console

CLIP_FRAMES = 4
SIZE = 256


class NaivePreprocessor:
    """What a straightforward Python pipeline does per frame: pad with copyMakeBorder, resize,
    roll a float64 (1, 4, 256, 256, 3) clip, then flip channels, scale and transpose it."""

    def __init__(self) -> None:
        self.clip = np.zeros((1, CLIP_FRAMES, SIZE, SIZE, 3), dtype=np.float64)

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


# ---------------------------------------------------------------------------------------------
# Networks: backbone speed (plain / fast / bf16 side by side), agreement, end to end, memory.
# ---------------------------------------------------------------------------------------------

NETWORKS: tuple[str, ...] = ("efficientnet", "mobilenet")
REFERENCE_TAGS = {"efficientnet": "sien", "mobilenet": "simn"}  # names in the reference manifest
# Heads each network's agreement is measured on (those of the reference pipeline, and more).
NETWORK_HEADS: dict[str, tuple[str, ...]] = {
    "efficientnet": ("gestures", "reps"),
    "mobilenet": ("fitness", "met"),
}
# End to end: the app that runs each network by default.
E2E_APPS = {"efficientnet": "gestures", "mobilenet": "fitness"}
STANDIN_SEED = 20240  # stand-in weights when the reference manifest (with its seeds) is absent
VIDEO_SIZE = (640, 480)
VIDEO_FPS = 16.0
AGREEMENT_FRAMES = 64  # the reference video's length


@dataclass(frozen=True)
class BenchWeights:
    """The weights folder a benchmark runs on: the user's SenseKit files, or stand-ins."""

    root: Path
    standin: bool
    note: str

    def backbone(self, network: str) -> Path:
        return self.head(network, "backbone")

    def head(self, network: str, kind: str) -> Path:
        from rtnet.weights import WEIGHT_FILES

        return self.root / WEIGHT_FILES[(network, "pro")][kind][0]  # type: ignore[index]


def find_reference(explicit: str | Path | None = None) -> Path | None:
    """The reference fixtures folder (manifest, video, goldens), if there is one: ``explicit``,
    $RTNET_REFERENCE, or ``shared/reference`` beside the working directory or the source tree."""
    if explicit is not None:
        if not (Path(explicit) / "manifest.json").is_file():
            raise ConfigError(
                f"--reference {explicit}: no reference fixtures (manifest.json) there"
            )
        return Path(explicit)
    candidates = []
    env = os.environ.get("RTNET_REFERENCE")
    candidates += [Path(env)] if env else []
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidates += [base.parent / "shared" / "reference", base / "shared" / "reference"]
    return next((c for c in candidates if (c / "manifest.json").is_file()), None)


def fill_rule_state_dict(
    tensors: Sequence[tuple[str, Sequence[int]]], seed: int
) -> dict[str, torch.Tensor]:
    """Stand-in weights by the reference README's fill rule: tensor i of the (key, shape) list
    is ``default_rng([seed, i]).standard_normal(shape)``, scaled by sqrt(1 / fan-in) for weights
    of 2 or more dims and by 0.05 otherwise, as float32."""
    import torch

    state = {}
    for index, (key, shape) in enumerate(tensors):
        values = np.random.default_rng([seed, index]).standard_normal(tuple(shape))
        if key.endswith("weight") and len(shape) >= 2:
            values *= np.sqrt(1.0 / np.prod(shape[1:]))
        else:
            values *= 0.05
        state[key] = torch.from_numpy(values.astype(np.float32))
    return state


def write_standin_weights(
    dest: Path, reference: Path | None, networks: Sequence[str] = NETWORKS
) -> Path:
    """A resources tree like the released one in ``dest``: fill-rule backbones and heads (the
    reference's heads and manifest seeds when ``reference`` is given, so its goldens apply)."""
    import torch

    from rtnet.models import backbone_signature, head_signature
    from rtnet.weights import WEIGHT_FILES

    manifest = json.loads((reference / "manifest.json").read_text()) if reference else None
    if reference is not None and (reference / "resources").is_dir():
        shutil.copytree(reference / "resources", dest, dirs_exist_ok=True)
    for network in networks:
        files = WEIGHT_FILES[(network, "pro")]  # type: ignore[index]
        if manifest is not None:
            tag = REFERENCE_TAGS[network]
            tensors, seed = manifest["tensors"][tag], manifest["seeds"][tag]
        else:
            tensors, seed = list(backbone_signature(network)), STANDIN_SEED  # type: ignore[arg-type]
        wanted = {"backbone": (tensors, seed)}
        for offset, kind in enumerate(NETWORK_HEADS[network], start=1):
            wanted[kind] = (list(head_signature(kind)), STANDIN_SEED + offset)  # type: ignore[arg-type]
        for kind, (kind_tensors, kind_seed) in wanted.items():
            path = dest / files[kind][0]  # type: ignore[literal-required]
            if path.is_file():
                continue  # a reference head
            path.parent.mkdir(parents=True, exist_ok=True)
            # Legacy (non-zip) serialization, as the released files are.
            torch.save(
                fill_rule_state_dict(kind_tensors, kind_seed),
                path,
                _use_new_zipfile_serialization=False,
            )
    return dest


def bench_weights(
    weights_dir: str | Path | None,
    reference: Path | None,
    scratch: Path,
    networks: Sequence[str] = NETWORKS,
) -> BenchWeights:
    """The user's SenseKit weights when every file the benchmark needs is found (same search as
    the apps); otherwise stand-ins written to ``scratch``. Speed does not depend on the values."""
    from rtnet.weights import WEIGHT_FILES, find_file, weights_search_path

    needed = [(network, "backbone") for network in networks]
    needed += [(network, kind) for network in networks for kind in NETWORK_HEADS[network]]
    missing = ""
    for entry in weights_search_path(weights_dir):
        files = {
            (network, kind): find_file(entry.path, WEIGHT_FILES[(network, "pro")][kind])  # type: ignore[index]
            for network, kind in needed
        }
        absent = [WEIGHT_FILES[(n, "pro")][k][0] for (n, k), p in files.items() if p is None]  # type: ignore[index]
        if not absent:
            return BenchWeights(entry.path, False, f"SenseKit weights from {entry}")
        missing = missing or f"{absent[0]} not in {entry}"
    root = write_standin_weights(scratch / "weights", reference, networks)
    origin = "reference fill rule and heads" if reference else "fill rule, seeded"
    return BenchWeights(
        root,
        True,
        f"stand-in weights ({origin}; {missing}): speed is the same as with the SenseKit "
        "weights, predictions are meaningless",
    )


def reference_frames(reference: Path | None, frames: int = 64) -> list[np.ndarray]:
    """BGR frames to measure on: the reference video if there is one, else a synthetic scene
    (a textured square moving over a gradient)."""
    import cv2

    if reference is not None and (reference / "video.mkv").is_file():
        capture = cv2.VideoCapture(str(reference / "video.mkv"))
        out = []
        while len(out) < frames:
            ok, frame = capture.read()
            if not ok:
                break
            out.append(frame)
        capture.release()
        if out:
            return out
    width, height = VIDEO_SIZE
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)
    ramp = np.linspace(0, 255, width, dtype=np.float32)
    background = np.broadcast_to(ramp[None, :, None], (height, width, 3)).astype(np.uint8)
    out = []
    for index in range(frames):
        frame = background.copy()
        x = int((width - 120) * (0.5 + 0.5 * np.sin(index / 6)))
        y = int((height - 120) * (0.5 + 0.5 * np.cos(index / 9)))
        frame[y : y + 120, x : x + 120] = texture
        out.append(frame)
    return out


def clips_of(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The clips the engine hands the network: every 4 frames, the ring's last 4."""
    from rtnet.network import NETWORK_CHANNEL_ORDER

    ring = FrameRing(CLIP_FRAMES, channels=NETWORK_CHANNEL_ORDER)
    clips = []
    for index, frame in enumerate(frames):
        ring.push(frame)
        if index % CLIP_FRAMES == CLIP_FRAMES - 1:
            clips.append(ring.clip())
    return clips


@dataclass(frozen=True)
class Variant:
    """One way to run a backbone."""

    name: str
    fast: bool
    precision: str


VARIANTS = (
    Variant("plain", False, "fp32"),
    Variant("fast", True, "fp32"),
    Variant("bf16", True, "bf16"),
)


def _variants() -> tuple[list[Variant], str | None]:
    """The variants this machine runs, and why bf16 is left out (if it is)."""
    from rtnet.models import bf16_supported

    if bf16_supported():
        return list(VARIANTS), None
    return [v for v in VARIANTS if v.precision == "fp32"], "no native bf16 on this CPU"


def bench_backbone(
    weights: BenchWeights,
    networks: Sequence[str] = NETWORKS,
    steps: int = 10,
    warmup: int = 2,
    threads: int | None = None,
) -> dict[str, Any]:
    """Milliseconds per 4-frame step of each network, plain vs fast vs bf16, interleaved.

    Every round runs one step of each variant in turn (ABCABC...), so load from elsewhere on
    the machine hits all variants alike; medians and speed-ups over the plain path come from
    the same rounds. Each network is timed in a fresh process, as an app runs it: the plain
    path's speed depends on what the allocator already holds (after efficientnet, mobilenet's
    plain path reuses freed heap instead of faulting in fresh pages, and runs twice as fast)."""
    _, skipped = _variants()
    result: dict[str, Any] = {"steps": steps, "skipped": {"bf16": skipped} if skipped else {}}
    spawn = multiprocessing.get_context("spawn")
    for network in networks:
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            timing = pool.submit(time_backbone, weights, network, steps, warmup, threads)
            result[network] = timing.result()
    return result


def time_backbone(
    weights: BenchWeights, network: str, steps: int, warmup: int, threads: int | None
) -> dict[str, dict[str, float]]:
    """The timing of :func:`bench_backbone` for one network, in this process."""
    import torch

    from rtnet.models import build_backbone

    if threads is not None:
        torch.set_num_threads(threads)
    variants, _ = _variants()
    clip = torch.from_numpy(np.random.default_rng(1).random((4, 3, 256, 256), dtype=np.float32))
    models = {
        v.name: build_backbone(
            network,  # type: ignore[arg-type]
            weights.backbone(network),
            fast=v.fast,
            precision=v.precision,  # type: ignore[arg-type]
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
    return {
        name: {
            "ms_per_step": statistics.median(samples),
            "min_ms": min(samples),
            "frames_per_s": CLIP_FRAMES * 1e3 / statistics.median(samples),
            "speedup": plain / statistics.median(samples),
        }
        for name, samples in times.items()
    }


def bench_agreement(
    weights: BenchWeights,
    clips: Sequence[np.ndarray],
    networks: Sequence[str] = NETWORKS,
    reference: Path | None = None,
) -> dict[str, Any]:
    """How closely the fast paths follow the plain fp32 path over a stream of clips.

    fp32: max abs difference of the backbone features. bf16: per classifier head, the share of
    steps with the same top-1 class and the max probability difference (MET: max difference).
    With stand-in weights and the reference goldens, also the fast path against the goldens."""
    from rtnet.models import build_backbone, build_head
    from rtnet.network import Network

    variants, _ = _variants()
    result: dict[str, Any] = {"clips": len(clips)}
    for network in networks:
        outputs: dict[str, dict[str, np.ndarray]] = {}
        for variant in variants:
            backbone = build_backbone(
                network,  # type: ignore[arg-type]
                weights.backbone(network),
                fast=variant.fast,
                precision=variant.precision,  # type: ignore[arg-type]
            )
            heads = {
                kind: build_head(kind, weights.head(network, kind))  # type: ignore[arg-type]
                for kind in NETWORK_HEADS[network]
            }
            features: list[np.ndarray] = []
            backbone.register_forward_hook(_collector(features))
            net = Network(backbone, heads)
            steps = [net(clip) for clip in clips]
            outputs[variant.name] = {
                kind: np.stack([step[kind] for step in steps]) for kind in heads
            } | {"features": np.concatenate(features)}
        plain = outputs["plain"]
        entry: dict[str, Any] = {
            "fp32_max_abs_diff": float(
                np.abs(outputs["fast"]["features"] - plain["features"]).max()
            )
        }
        if "bf16" in outputs:
            bf16 = outputs["bf16"]
            entry["bf16_feature_max_abs_diff"] = float(
                np.abs(bf16["features"] - plain["features"]).max()
            )
            for kind in NETWORK_HEADS[network]:
                diff = float(np.abs(bf16[kind] - plain[kind]).max())
                if kind == "met":
                    entry["bf16_met_max_abs_diff"] = diff
                    continue
                same = bf16[kind].argmax(axis=1) == plain[kind].argmax(axis=1)
                entry[f"bf16_{kind}"] = {
                    "top1_agreement": float(same.mean()),
                    "same_top1": int(same.sum()),
                    "steps": int(same.size),
                    "max_prob_diff": diff,
                }
        if weights.standin and reference is not None:
            entry["fp32_golden_max_abs_diff"] = _golden_diff(weights, network, reference)
        result[network] = entry
    return result


def _collector(store: list[np.ndarray]) -> Callable[..., None]:
    """A forward hook keeping a copy of each output (the features, next to the head outputs)."""

    def hook(module: object, inputs: object, output: torch.Tensor) -> None:
        store.append(output.numpy().copy())

    return hook


def _golden_diff(weights: BenchWeights, network: str, reference: Path) -> float | None:
    """Fast fp32 path against backbones.npz (valid for fill-rule weights only)."""
    import torch

    from rtnet.models import build_backbone

    path = reference / "backbones.npz"
    if not path.is_file():
        return None
    tag = REFERENCE_TAGS[network]
    with np.load(path) as data:
        goldens = data[f"{tag}_outputs"]
    model = build_backbone(network, weights.backbone(network))  # type: ignore[arg-type]
    worst = 0.0
    for step, golden in enumerate(goldens):
        frames = np.random.default_rng([1, 1000 + step]).random((4, 3, 256, 256), dtype=np.float32)
        worst = max(worst, float(np.abs(model(torch.from_numpy(frames)).numpy() - golden).max()))
    return worst


def write_video(path: Path, frames: Sequence[np.ndarray], total: int) -> Path:
    """``total`` frames of ``frames`` played forwards and backwards, as a 16 fps MPEG-4 file."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), VIDEO_FPS, VIDEO_SIZE)
    if not writer.isOpened():
        raise RtnetError(f"cannot write the benchmark video {path}")
    loop = list(frames) + list(frames[::-1])
    try:
        for index in range(total):
            writer.write(cv2.resize(loop[index % len(loop)], VIDEO_SIZE))
    finally:
        writer.release()
    return path


def bench_e2e(
    weights: BenchWeights,
    video: Path,
    runs: Sequence[tuple[str, str, str]],
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Frames per second of ``rtnet <app> --path-in VIDEO --no-window --quiet`` in a child
    process, for each (app, model, precision) of ``runs``.

    The rate is steady-state: from the first to the last JSONL line (``--jsonl -``, flushed per
    step), so start-up and model loading do not count; they are in ``wall_s``. ``peak_rss_mb``
    is the child's peak resident memory."""
    results = []
    for app, model, precision in runs:
        command = [sys.executable, "-m", "rtnet", app, "--path-in", str(video), "--no-window"]
        command += ["--quiet", "--jsonl", "-", "--weights-dir", str(weights.root)]
        command += ["--model", model, "--precision", precision]
        command += ["--threads", str(threads)] if threads else []
        results.append({"app": app, "model": model, "precision": precision} | _timed_run(command))
    return results


def _timed_run(command: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryFile("w+") as errors:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        assert child.stdout is not None
        stamps, peak = [], 0.0
        for line in child.stdout:
            if line.strip():
                stamps.append(time.perf_counter())
                peak = max(peak, _high_water_mb(child.pid))
        child.wait()
        wall = time.perf_counter() - start
        errors.seek(0)
        message = errors.read().strip().splitlines()
    entry: dict[str, Any] = {"steps": len(stamps), "wall_s": wall, "peak_rss_mb": peak or None}
    if child.returncode != 0:
        entry["error"] = message[-1] if message else f"exit status {child.returncode}"
    elif len(stamps) >= 2:
        entry["frames_per_s"] = CLIP_FRAMES * (len(stamps) - 1) / (stamps[-1] - stamps[0])
    return entry


def _high_water_mb(pid: int) -> float:
    """Peak resident memory of a running process (Linux; 0 elsewhere). Read while it runs:
    a child's getrusage figure would include the parent's memory at fork time."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return 0.0


def import_rss_mb() -> float | None:
    """Resident memory of a process that only imported torch and rtnet's models: the floor
    under every app's peak (a CUDA build of torch alone holds hundreds of MiB)."""
    code = (
        "import pathlib, torch, rtnet.models; print(pathlib.Path('/proc/self/status').read_text())"
    )
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        status = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return None


def peak_rss_mb() -> float:
    """This process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def machine_info() -> dict[str, Any]:
    import torch

    from rtnet.models import bf16_supported

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "native_bf16": bf16_supported(),
    }


SECTIONS = ("preprocess", "backbone", "e2e")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rtnet bench``."""
    parser.add_argument(
        "what",
        nargs="?",
        choices=(*SECTIONS, "all"),
        default="all",
        help="what to measure (default: all)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--weights-dir",
        metavar="DIR",
        help="SenseKit weights to use (default: as the apps; stand-ins when not found)",
    )
    parser.add_argument(
        "--network",
        action="append",
        choices=NETWORKS,
        help="backbone to measure (repeatable; default: both)",
    )
    parser.add_argument(
        "--steps", type=int, default=10, metavar="N", help="backbone rounds (default: 10)"
    )
    parser.add_argument(
        "--frames",
        type=int,
        default=512,
        metavar="N",
        help="frames of the end-to-end video (default: 512); also caps the agreement video "
        f"({AGREEMENT_FRAMES}) and the preprocessing run (200)",
    )
    parser.add_argument(
        "--video", metavar="FILE", help="end-to-end input (default: made from the reference video)"
    )
    parser.add_argument("--threads", type=int, metavar="N", help="PyTorch CPU threads")
    parser.add_argument(
        "--reference", metavar="DIR", help="reference fixtures (video, goldens, stand-in seeds)"
    )


def run_bench(args: argparse.Namespace) -> int:
    """``rtnet bench``: measure, then print tables (or JSON)."""
    for option in ("steps", "frames", "threads"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise ConfigError(f"invalid --{option} {value}: expected 1 or more")
    if args.video is not None and not Path(args.video).is_file():
        raise ConfigError(f"--video {args.video}: no such file")
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="rtnet-bench-") as scratch:
        report = measure(args, Path(scratch))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


def measure(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Everything ``args`` asks for, as one JSON-ready report."""
    sections = SECTIONS if args.what == "all" else (args.what,)
    networks = tuple(dict.fromkeys(args.network or NETWORKS))
    reference = find_reference(args.reference)
    report: dict[str, Any] = {"machine": machine_info()}
    if "preprocess" in sections:
        report["preprocess"] = bench_preprocess(frames=min(args.frames, 200))
    if "backbone" in sections or "e2e" in sections:
        weights = bench_weights(args.weights_dir, reference, scratch, networks)
        report["weights"] = {
            "dir": str(weights.root),
            "standin": weights.standin,
            "note": weights.note,
        }
        frames = reference_frames(reference, min(args.frames, AGREEMENT_FRAMES))
    if "backbone" in sections:
        report["backbone"] = bench_backbone(
            weights, networks, steps=args.steps, threads=args.threads
        )
        report["agreement"] = bench_agreement(weights, clips_of(frames), networks, reference)
        report["agreement"]["input"] = "reference video" if reference else "synthetic video"
    if "e2e" in sections:
        if args.video:
            video, report["e2e_input"] = Path(args.video), str(args.video)
        else:
            video = write_video(scratch / "bench.mp4", frames, args.frames)
            width, height = VIDEO_SIZE
            report["e2e_input"] = f"{args.frames} frames {width}x{height} at 16 fps (MPEG-4)"
        precisions = dict.fromkeys(v.precision for v in _variants()[0])
        runs = [(E2E_APPS[n], n, precision) for n in networks for precision in precisions]
        report["e2e"] = bench_e2e(weights, video, runs, args.threads)
        report["import_rss_mb"] = import_rss_mb()
    report["peak_rss_mb"] = peak_rss_mb()
    return report


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    """The report as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    machine = report["machine"]
    console.print(
        f"[bold]rtnet bench[/]  {machine['cpu']}, {machine['cores']} cores, torch "
        f"{machine['torch']} with {machine['torch_threads']} threads, native bf16: "
        f"{'yes' if machine['native_bf16'] else 'no'}"
    )
    if "weights" in report:
        style = "yellow" if report["weights"]["standin"] else "green"
        console.print(f"[{style}]weights: {report['weights']['note']}[/]")
    if "preprocess" in report:
        pre = report["preprocess"]
        table = Table(title=f"Preprocessing, ms per {pre['width']}x{pre['height']} frame (median)")
        for column in ("naive NumPy+OpenCV", "FrameRing.push", "push + clip()", "speed-up"):
            table.add_column(column, justify="right")
        table.add_row(
            f"{pre['naive_ms']:.2f}",
            f"{pre['ring_ms']:.2f}",
            f"{pre['ring_with_clip_ms']:.2f}",
            f"{pre['ratio_with_clip']:.1f}x",
        )
        console.print(table)
    if "backbone" in report:
        backbone = report["backbone"]
        table = Table(
            title=f"Backbone, one 4-frame step (median of {backbone['steps']} interleaved rounds)"
        )
        for column in ("network", "path", "ms/step", "min ms", "frames/s", "vs plain"):
            table.add_column(column, justify="left" if column in ("network", "path") else "right")
        for network in NETWORKS:
            for name, timing in backbone.get(network, {}).items():
                table.add_row(
                    network,
                    name,
                    f"{timing['ms_per_step']:.1f}",
                    f"{timing['min_ms']:.1f}",
                    f"{timing['frames_per_s']:.0f}",
                    f"{timing['speedup']:.2f}x",
                )
        console.print(table)
        for reason in backbone["skipped"].values():
            console.print(f"[yellow]bf16 not measured: {reason}[/]")
    if "agreement" in report:
        agreement = report["agreement"]
        table = Table(
            title=f"Agreement with the plain fp32 path ({agreement['clips']} steps of the "
            f"{agreement['input']})"
        )
        table.add_column("network")
        for column in ("fp32 max |diff|", "vs goldens", "bf16 features"):
            table.add_column(column, justify="right")
        table.add_column("bf16 heads (top-1 same as fp32)")
        for network in NETWORKS:
            entry = agreement.get(network)
            if entry is None:
                continue
            heads = [
                f"{kind[5:]} top-1 {v['same_top1']}/{v['steps']}, max p diff "
                f"{v['max_prob_diff']:.4f}"
                for kind, v in entry.items()
                if isinstance(v, dict)
            ]
            if "bf16_met_max_abs_diff" in entry:
                heads.append(f"MET max diff {entry['bf16_met_max_abs_diff']:.3f}")
            golden = entry.get("fp32_golden_max_abs_diff")
            bf16 = entry.get("bf16_feature_max_abs_diff")
            table.add_row(
                network,
                f"{entry['fp32_max_abs_diff']:.1e}",
                "-" if golden is None else f"{golden:.1e}",
                "-" if bf16 is None else f"{bf16:.3f}",
                "\n".join(heads) or "-",
            )
        console.print(table)
    if "e2e" in report:
        table = Table(title=f"End to end, --no-window --quiet on {report['e2e_input']}")
        for column in ("app", "model", "precision"):
            table.add_column(column)
        for column in ("frames/s", "wall s", "peak RSS MiB"):
            table.add_column(column, justify="right")
        for run in report["e2e"]:
            fps = run.get("frames_per_s")
            table.add_row(
                run["app"],
                run["model"],
                run["precision"],
                run.get("error") or ("-" if fps is None else f"{fps:.1f}"),
                f"{run['wall_s']:.1f}",
                "-" if run["peak_rss_mb"] is None else f"{run['peak_rss_mb']:.0f}",
            )
        console.print(table)
        if report.get("import_rss_mb"):
            console.print(
                f"(importing torch and rtnet alone: {report['import_rss_mb']:.0f} MiB resident)"
            )
    console.print(f"peak RSS of the benchmark process: {report['peak_rss_mb']:.0f} MiB")


if __name__ == "__main__":
    for key, value in bench_preprocess().items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
