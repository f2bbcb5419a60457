"""The benchmark's results as one report: JSON, or rich tables."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rtnet.bench.backbone import BackboneTiming, NetworkAgreement
from rtnet.bench.common import BenchWeights
from rtnet.bench.e2e import E2ERun
from rtnet.bench.evaluate import EvalBench, print_eval_bench
from rtnet.bench.pose import PoseNetworks
from rtnet.bench.preprocess import PreprocessResult

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int | None
    torch: str
    torch_threads: int
    native_bf16: bool


@dataclass
class BenchReport:
    machine: Machine
    weights: BenchWeights | None = None
    preprocess: PreprocessResult | None = None
    backbone: list[BackboneTiming] = field(default_factory=list)
    bf16_skipped: str | None = None  # why bf16 was not measured
    agreement_input: str | None = None
    agreement: list[NetworkAgreement] = field(default_factory=list)
    e2e_input: str | None = None
    e2e: list[E2ERun] = field(default_factory=list)
    pose: PoseNetworks | None = None
    pose_e2e: list[E2ERun] = field(default_factory=list)
    eval: EvalBench | None = None
    import_rss_mb: float | None = None
    peak_rss_mb: float = 0.0  # of the benchmark process itself

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, default=str)


def machine_info() -> Machine:
    import torch

    from rtnet.models import bf16_supported

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return Machine(
        cpu=model or platform.processor() or platform.machine(),
        cores=os.cpu_count(),
        torch=torch.__version__,
        torch_threads=torch.get_num_threads(),
        native_bf16=bf16_supported(),
    )


def peak_rss_mb() -> float:
    """This process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def print_report(report: BenchReport, console: Console | None = None) -> None:
    from rich.console import Console

    console = console or Console()
    machine = report.machine
    console.print(
        f"[bold]rtnet bench[/]  {machine.cpu}, {machine.cores} cores, torch {machine.torch} "
        f"with {machine.torch_threads} threads, native bf16: "
        f"{'yes' if machine.native_bf16 else 'no'}"
    )
    if report.weights is not None:
        style = "yellow" if report.weights.standin else "green"
        console.print(f"[{style}]weights: {report.weights.note}[/]")
    if report.preprocess is not None:
        _print_preprocess(report.preprocess, console)
    if report.backbone:
        _print_backbone(report.backbone, console)
    if report.bf16_skipped:
        console.print(f"[yellow]bf16 not measured: {report.bf16_skipped}[/]")
    if report.agreement:
        _print_agreement(report.agreement, report.agreement_input or "", console)
    if report.e2e:
        _print_e2e(report.e2e, report.e2e_input or "", console)
        if report.import_rss_mb:
            console.print(
                f"(importing torch and rtnet alone: {report.import_rss_mb:.0f} MiB resident)"
            )
    if report.pose is not None:
        _print_pose(report.pose, console)
    if report.pose_e2e:
        _print_e2e(report.pose_e2e, report.e2e_input or "", console)
    if report.eval is not None:
        print_eval_bench(report.eval, console)
    console.print(f"peak RSS of the benchmark process: {report.peak_rss_mb:.0f} MiB")


def _print_preprocess(pre: PreprocessResult, console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"Preprocessing, ms per {pre.width}x{pre.height} frame (median)")
    for column in ("naive NumPy+OpenCV", "FrameRing.push", "push + clip()", "speed-up"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{pre.naive_ms:.2f}",
        f"{pre.ring_ms:.2f}",
        f"{pre.ring_with_clip_ms:.2f}",
        f"{pre.ratio_with_clip:.1f}x",
    )
    console.print(table)


def _print_backbone(timings: list[BackboneTiming], console: Console) -> None:
    from rich.table import Table

    table = Table(
        title=f"Backbone, one 4-frame step (median of {timings[0].steps} interleaved rounds)"
    )
    for column in ("network", "path", "ms/step", "min ms", "frames/s", "vs plain"):
        table.add_column(column, justify="left" if column in ("network", "path") else "right")
    for timing in timings:
        for v in timing.variants:
            table.add_row(
                timing.network,
                v.variant,
                f"{v.ms_per_step:.1f}",
                f"{v.min_ms:.1f}",
                f"{v.frames_per_s:.0f}",
                f"{v.speedup:.2f}x",
            )
    console.print(table)


def _print_agreement(agreements: list[NetworkAgreement], source: str, console: Console) -> None:
    from rich.table import Table

    table = Table(
        title=f"Agreement with the plain fp32 path ({agreements[0].clips} steps of {source})"
    )
    for column in ("network", "path"):
        table.add_column(column)
    table.add_column("features max |diff|", justify="right")
    table.add_column("heads")
    for agreement in agreements:
        for v in agreement.variants:
            heads = [
                f"{h.kind} max diff {h.max_abs_diff:.3g}"
                if h.same_top1 is None
                else f"{h.kind} top-1 {h.same_top1}/{h.steps}, max p diff {h.max_abs_diff:.3g}"
                for h in v.heads
            ]
            table.add_row(
                agreement.network, v.variant, f"{v.feature_max_abs_diff:.1e}", "\n".join(heads)
            )
    console.print(table)


def _print_e2e(runs: list[E2ERun], source: str, console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"End to end, --no-window --quiet on {source}")
    for column in ("app", "model", "precision", "history"):
        table.add_column(column)
    for column in ("frames/s", "wall s", "peak RSS MiB"):
        table.add_column(column, justify="right")
    for run in runs:
        fps = "-" if run.frames_per_s is None else f"{run.frames_per_s:.1f}"
        table.add_row(
            run.app,
            run.model,
            run.precision,
            "kept" if run.history else "off",
            run.error or fps,
            f"{run.wall_s:.1f}",
            "-" if run.peak_rss_mb is None else f"{run.peak_rss_mb:.0f}",
        )
    console.print(table)


def _print_pose(pose: PoseNetworks, console: Console) -> None:
    from rich.table import Table

    table = Table(
        title=f"Landmark networks, ms per frame (median of {pose.frames}), {pose.threads} threads"
    )
    for column in ("network", "rtnet (fast fp32)", "MediaPipe .tflite (LiteRT)", "ratio"):
        table.add_column(column, justify="left" if column == "network" else "right")
    for t in pose.timings:
        table.add_row(
            t.network,
            f"{t.rtnet_ms:.1f}",
            "-" if t.litert_ms is None else f"{t.litert_ms:.1f}",
            "-" if t.ratio is None else f"{t.ratio:.2f}x",
        )
    console.print(table)
    console.print(
        f"(rtnet: its kernel program, {pose.kernels} code; LiteRT: {pose.litert}; "
        "ratio > 1: rtnet is faster)"
    )
