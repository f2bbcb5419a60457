"""``rtnet bench eval``: videos/s through a custom classifier, ``rtnet eval``'s path against the
naive ones, side by side, interleaved, in one run.

- a process per video: ``rtnet run --classifier C --path-in V --no-window --quiet``, once per
  video, as a shell loop does it (each starts Python, imports torch and builds the network);
- one video at a time: in one process, decoding and inference taking turns in one thread, one
  model step (4 frames) per network call, as the engine calls the network;
- ``rtnet eval``: ``rtnet.training.evaluate.evaluate``, a thread decoding ahead, one model step
  per call (its default), and again with ``BATCHED_STEPS`` steps per call (what batching does).

All on the same classifier (lite0 with a stand-in head, fixed seed: speed does not depend on the
weight values), in fp32, on the same videos; the per-video probabilities of the two in-process
paths are compared too.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rtnet.bench.common import synthetic_frames
from rtnet.resample import MODEL_FPS

if TYPE_CHECKING:
    from rich.console import Console

STANDIN_LABELS = ("first", "second", "third")
EVAL_FRAMES = 32  # frames per video, at most (2 s)
ROUNDS = 2  # interleaved rounds of the in-process paths; the faster round of each counts
PROCESS_VIDEOS = 2  # videos run as a process each (seconds of start-up per video)
BATCHED_STEPS = 8  # rtnet eval --batch-steps 8: 32 frames per network call


@dataclass(frozen=True)
class EvalPath:
    path: str
    videos: int  # how many it ran
    seconds: float
    videos_per_s: float
    speedup: float  # videos/s against the process-per-video path
    error: str | None = None


@dataclass(frozen=True)
class EvalBench:
    videos: int
    frames_per_video: int
    batch_steps: int
    rounds: int
    paths: list[EvalPath]
    max_prob_diff: float  # per-video mean probabilities, any rtnet eval run vs one step per call
    same_predictions: int  # of ``videos``, in the rtnet eval run that agreed least


def standin_classifier(folder: Path, labels: tuple[str, ...] = STANDIN_LABELS) -> Path:
    """A classifier checkpoint on the built-in lite0 backbone with an untrained head (seed 0):
    what ``rtnet train`` writes, without the training."""
    import dataclasses

    import torch

    from rtnet.training.backbones import choose_backbone, features_per_step
    from rtnet.training.classifier import Checkpoint, ClassifierConfig, write_checkpoint
    from rtnet.training.head import HeadConfig, TemporalHead

    torch.manual_seed(0)
    rate = features_per_step(choose_backbone("lite0").build())
    config = dataclasses.replace(HeadConfig(), features_per_step=rate)
    head = TemporalHead(len(labels), config)
    return write_checkpoint(
        Checkpoint(
            folder=folder,
            labels=labels,
            config=ClassifierConfig(backbone="lite0", version=None, head=config),
            head_state=head.state_dict(),
            backbone_state={},
        )
    )


def bench_eval(
    scratch: Path,
    *,
    videos: int = 8,
    frames: int = EVAL_FRAMES,
    batch_steps: int | None = None,
    threads: int | None = None,
) -> EvalBench:
    from rtnet.bench.e2e import write_video
    from rtnet.resolve import Request, load, resolve
    from rtnet.training.classifier import OUTPUT, read_checkpoint
    from rtnet.training.evaluate import (
        DEFAULT_BATCH_STEPS,
        EvalSet,
        EvalVideo,
        evaluate,
        iterate_steps,
        settled_mean,
        step_network,
    )

    batch = batch_steps or DEFAULT_BATCH_STEPS
    folder = standin_classifier(scratch / "classifier")
    checkpoint = read_checkpoint(folder)
    network = step_network(load(resolve(Request(classifier=checkpoint)), precision="fp32").network)
    warmup = max(0, checkpoint.config.head.steps - 1)
    # Different scenes per video: a longer synthetic sequence, cut in pieces.
    scene = synthetic_frames(frames * videos)
    paths = [
        write_video(scratch / f"video_{i}.mp4", scene[i * frames : (i + 1) * frames], frames)
        for i in range(videos)
    ]
    eval_set = EvalSet(tuple(EvalVideo(p, None, p.name) for p in paths), "bench")

    def naive() -> list[np.ndarray]:
        return [
            settled_mean(np.stack(list(iterate_steps(network, OUTPUT, p))), warmup) for p in paths
        ]

    def batched(steps: int) -> list[np.ndarray]:
        report = evaluate(
            network, OUTPUT, checkpoint.labels, eval_set, warmup_steps=warmup, batch_steps=steps
        )
        return [s.probs for s in report.scores if s.probs is not None]

    processes = paths[:PROCESS_VIDEOS]
    process_s, error = _process_per_video(folder, processes, threads)
    batches = tuple(dict.fromkeys((batch, BATCHED_STEPS)))
    naive_times: list[float] = []
    eval_times: dict[int, list[float]] = {steps: [] for steps in batches}
    naive_probs: list[np.ndarray] = []
    eval_probs: list[np.ndarray] = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        naive_probs = naive()
        naive_times.append(time.perf_counter() - start)
        for steps in batches:
            start = time.perf_counter()
            probs = batched(steps)
            eval_times[steps].append(time.perf_counter() - start)
            eval_probs += probs
    baseline = len(processes) / process_s

    def timed(path: str, count: int, seconds: float, error: str | None = None) -> EvalPath:
        rate = count / seconds
        return EvalPath(path, count, seconds, rate, rate / baseline, error)

    per_step = "one step" if batch == 1 else f"{batch} steps"
    paths_timed = [
        timed("rtnet run, a process per video", len(processes), process_s, error),
        timed("one video at a time, one step per call", videos, min(naive_times)),
        timed(f"rtnet eval: decoding ahead, {per_step} per call", videos, min(eval_times[batch])),
    ]
    paths_timed += [
        timed(f"rtnet eval --batch-steps {steps}", videos, min(eval_times[steps]))
        for steps in batches[1:]
    ]
    # Every rtnet eval run, against one step per call: the same probabilities.
    pairs = [(naive_probs[i % videos], probs) for i, probs in enumerate(eval_probs)]
    return EvalBench(
        videos=videos,
        frames_per_video=frames,
        batch_steps=batch,
        rounds=ROUNDS,
        paths=paths_timed,
        max_prob_diff=max(float(np.abs(a - b).max()) for a, b in pairs),
        same_predictions=min(
            sum(int(a.argmax() == b.argmax()) for a, b in pairs[i : i + videos])
            for i in range(0, len(pairs), videos)
        ),
    )


def _process_per_video(
    classifier: Path, videos: list[Path], threads: int | None
) -> tuple[float, str | None]:
    """Wall time of ``rtnet run`` once per video, and the first error, if one failed."""
    options = ("--threads", str(threads)) if threads else ()
    start = time.perf_counter()
    error = None
    for video in videos:
        # fmt: off
        command = [
            sys.executable, "-m", "rtnet", "run", "--classifier", str(classifier),
            "--path-in", str(video), "--no-window", "--quiet", "--no-history",
            "--precision", "fp32", "--jsonl", str(video.with_suffix(".jsonl")), *options,
        ]
        # fmt: on
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 and error is None:
            lines = done.stderr.strip().splitlines()
            error = lines[-1] if lines else f"exit status {done.returncode}"
    return time.perf_counter() - start, error


def print_eval_bench(result: EvalBench, console: Console) -> None:
    from rich.table import Table

    seconds = result.frames_per_video / MODEL_FPS
    table = Table(
        title=f"A classifier on videos of {seconds:g} s (lite0, fp32; in process: the faster of "
        f"{result.rounds} interleaved rounds)"
    )
    for column in ("path", "videos", "wall s", "videos/s", "vs a process per video"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for path in result.paths:
        table.add_row(
            path.path,
            str(path.videos),
            f"{path.seconds:.1f}",
            path.error or f"{path.videos_per_s:.2f}",
            f"{path.speedup:.1f}x",
        )
    console.print(table)
    console.print(
        f"(rtnet eval against one step per call: same prediction on "
        f"{result.same_predictions}/{result.videos} videos, max probability difference "
        f"{result.max_prob_diff:.1e})"
    )
