"""Benchmarks (``rtnet bench``), not timed tests.

- preprocessing: the Rust preprocessing ring against the naive NumPy+OpenCV path;
- backbones: plain eager vs fast fp32 vs bf16, ms per step, interleaved in one run, with how
  closely the fast paths agree with the plain one;
- end to end: each app on a video file in a child process, frames/s and peak memory;
- pose: the built-in landmark networks against MediaPipe's .tflite files under LiteRT, per frame,
  and `rtnet pose` end to end with and without hands;
- eval: videos/s through a custom classifier, `rtnet eval`'s batched path against one video and
  one step at a time.

With no SenseKit weights around, the networks run on stand-in weights (:mod:`rtnet.standin`,
fixed seed) written to a temporary folder: speed does not depend on the weight values, and the
output says so.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rtnet.bench.common import NETWORKS
from rtnet.bench.evaluate import EVAL_FRAMES
from rtnet.bench.report import BenchReport
from rtnet.errors import ConfigError

SECTIONS = ("preprocess", "backbone", "e2e", "pose", "eval")
AGREEMENT_FRAMES = 64  # frames the agreement runs on, at most
PREPROCESS_FRAMES = 200
# End to end: the app that runs each network by default.
E2E_APPS = {"efficientnet": "gestures", "mobilenet": "fitness"}

__all__ = ["SECTIONS", "BenchReport", "add_arguments", "measure", "run_bench"]


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
        help="frames of the end-to-end video (default: 512); also caps the agreement run "
        f"({AGREEMENT_FRAMES}) and the preprocessing run ({PREPROCESS_FRAMES})",
    )
    parser.add_argument(
        "--video",
        metavar="FILE",
        help="input of the agreement and end-to-end runs (default: a synthetic moving scene)",
    )
    parser.add_argument("--threads", type=int, metavar="N", help="PyTorch CPU threads")
    parser.add_argument(
        "--videos",
        type=int,
        default=8,
        metavar="N",
        help=f"eval: videos to score (default: 8), each of --frames frames, at most {EVAL_FRAMES}",
    )
    parser.add_argument(
        "--tflite",
        metavar="WHEEL_OR_DIR",
        help="pose: MediaPipe's .tflite files to compare with (the mediapipe 0.10.14 wheel, "
        "from `pip download mediapipe==0.10.14 --no-deps`, or its unpacked folder)",
    )


def run_bench(args: argparse.Namespace) -> int:
    """``rtnet bench``: measure, then print tables (or JSON)."""
    for option in ("steps", "frames", "threads", "videos"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise ConfigError(f"invalid --{option} {value}: expected 1 or more")
    for option in ("video", "tflite"):
        value = getattr(args, option)
        if value is not None and not Path(value).exists():
            raise ConfigError(f"--{option} {value}: no such file")
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="rtnet-bench-") as scratch:
        report = measure(args, Path(scratch))
    if args.json:
        print(report.to_json())
    else:
        from rtnet.bench.report import print_report
        from rtnet.consoles import stdout_console

        print_report(report, stdout_console())
    return 0


def measure(args: argparse.Namespace, scratch: Path) -> BenchReport:
    """Everything ``args`` asks for, as one report."""
    from rtnet.bench.backbone import bench_agreement, bench_backbone, machine_variants
    from rtnet.bench.common import bench_weights, read_frames, synthetic_frames
    from rtnet.bench.e2e import BUILT_IN, E2ESpec, bench_e2e, import_rss_mb, write_video
    from rtnet.bench.pose import bench_pose_networks
    from rtnet.bench.preprocess import bench_preprocess
    from rtnet.bench.report import machine_info, peak_rss_mb

    sections = SECTIONS if args.what == "all" else (args.what,)
    networks = tuple(dict.fromkeys(args.network or NETWORKS))
    report = BenchReport(machine_info())
    if "preprocess" in sections:
        report.preprocess = bench_preprocess(frames=min(args.frames, PREPROCESS_FRAMES))
    if "backbone" in sections or "e2e" in sections:
        weights = report.weights = bench_weights(args.weights_dir, scratch, networks)
        variants, report.bf16_skipped = machine_variants()
    if "backbone" in sections or "e2e" in sections or "pose" in sections:
        count = min(args.frames, AGREEMENT_FRAMES)
        frames = read_frames(Path(args.video), count) if args.video else []
        source = f"{args.video}" if frames else "a synthetic moving scene"
        frames = frames or synthetic_frames(count)
        if args.video:
            video, report.e2e_input = Path(args.video), str(args.video)
        else:
            video = write_video(scratch / "bench.mp4", frames, args.frames)
            report.e2e_input = f"{args.frames} frames of {source} at 16 fps (MPEG-4)"
    if "backbone" in sections:
        report.backbone = bench_backbone(weights, networks, steps=args.steps, threads=args.threads)
        report.agreement_input = source
        report.agreement = [bench_agreement(weights, frames, network) for network in networks]
    if "e2e" in sections:
        precisions = dict.fromkeys(v.precision for v in variants)
        runs = [E2ESpec(E2E_APPS[n], n, precision) for n in networks for precision in precisions]
        # The workout history's cost, side by side with the same run without it.
        last = runs[-1]
        runs.append(E2ESpec(last.app, last.model, last.precision, history=True))
        report.e2e = bench_e2e(weights, video, runs, args.threads, scratch)
        report.import_rss_mb = import_rss_mb()
    if "pose" in sections:
        report.pose = bench_pose_networks(Path(args.tflite) if args.tflite else None)
        trackers = [E2ESpec("pose", BUILT_IN, "fp32", options=("--no-hands",))]
        trackers.append(E2ESpec("pose", BUILT_IN, "fp32"))
        # The fitness app on the trackers: exercises, reps and calories without SenseKit.
        trackers.append(E2ESpec("fitness", BUILT_IN, "fp32", options=("--model", "pose")))
        report.pose_e2e = bench_e2e(None, video, trackers, args.threads, scratch)
    if "eval" in sections:
        from rtnet.bench.evaluate import bench_eval

        report.eval = bench_eval(
            scratch, videos=args.videos, frames=min(args.frames, EVAL_FRAMES), threads=args.threads
        )
    report.peak_rss_mb = peak_rss_mb()
    return report
