"""``rtnet eval --classifier DIR DATASET_OR_FOLDER...``: a classifier scored on many videos.

Kept free of heavy imports (torch, OpenCV): building the parser stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import TYPE_CHECKING

from rtnet.cli.options import add_threads_option, bounded_int, setup_torch
from rtnet.precision import DEFAULT_PRECISION, PRECISION_OPTIONS

if TYPE_CHECKING:
    from rich.console import Console

    from rtnet.training.classifier import Checkpoint
    from rtnet.training.evaluate import EvalReport, VideoScore

EVAL_HELP = (
    "score a classifier trained with `rtnet train` on many videos: per video, per class, "
    "confusion matrix"
)
MAX_BATCH_STEPS = 256

log = logging.getLogger("rtnet")


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="DATASET_OR_FOLDER",
        help="a dataset (its videos_test/<class>/ videos), a folder of videos (the class from "
        "the sub-folder's name, if any), or video files",
    )
    parser.add_argument(
        "--classifier",
        required=True,
        metavar="DIR",
        help="a folder written by `rtnet train` (DATASET/checkpoints/NAME)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--weights-dir", metavar="DIR", help="folder holding the SenseKit weights")
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="where the network runs"
    )
    parser.add_argument(
        "--precision",
        choices=PRECISION_OPTIONS,
        default=DEFAULT_PRECISION,
        help="backbone arithmetic (default: auto, as `rtnet run`)",
    )
    from rtnet.training.evaluate import DEFAULT_BATCH_STEPS

    parser.add_argument(
        "--batch-steps",
        type=bounded_int(1, MAX_BATCH_STEPS),
        default=DEFAULT_BATCH_STEPS,
        metavar="N",
        help=f"model steps (of 4 frames) per network call (default: {DEFAULT_BATCH_STEPS}, "
        "fastest on a CPU; a GPU may gain from more)",
    )
    add_threads_option(parser)


def run_eval(args: argparse.Namespace, console: Console) -> int:
    from rtnet.consoles import stdout_console
    from rtnet.resolve import Request, load, resolve
    from rtnet.training.classifier import OUTPUT, read_checkpoint
    from rtnet.training.evaluate import evaluate, find_videos, step_network

    checkpoint = read_checkpoint(args.classifier)
    videos = find_videos(args.paths, checkpoint.labels)  # errors before anything heavy starts
    located = resolve(Request(classifier=checkpoint, weights_dir=args.weights_dir))
    setup_torch(args.device, args.threads)
    loaded = load(located, device=args.device, precision=args.precision)
    log.info("%s", loaded.reason)
    count = len(videos.videos)
    log.info("%d video%s from %s", count, "s" * (count != 1), videos.source)

    def progress(score: VideoScore) -> None:
        if score.probs is None:
            log.warning("skipped %s: %s", score.video.name, score.error)

    network = step_network(loaded.network)
    report = evaluate(
        network,
        OUTPUT,
        checkpoint.labels,
        videos,
        warmup_steps=warmup_steps(checkpoint),
        batch_steps=args.batch_steps,
        on_video=progress,
    )
    if not report.done:
        from rtnet.errors import SourceError

        raise SourceError(f"no video of {videos.source} could be read (see the warnings above)")
    if args.json:
        print(json.dumps(report.to_json() | {"classifier": str(checkpoint.folder)}))
    else:
        print_eval(report, stdout_console())
    return 0


def warmup_steps(checkpoint: Checkpoint) -> int:
    """Steps before the head has seen a whole window: left out of a video's prediction."""
    return max(0, checkpoint.config.head.steps - 1)


def print_eval(report: EvalReport, console: Console) -> None:
    """Per video, per class, the confusion matrix, then one line with the totals."""
    from rich.markup import escape
    from rich.table import Table

    from rtnet.training.train import confusion_table

    labels = report.labels
    videos = Table(title=f"Predictions ({escape(report.source)})")
    for column in ("video", "class", "predicted", "prob", ""):
        videos.add_column(column, justify="right" if column == "prob" else "left")
    for score in report.scores:
        truth = score.video.label or "[dim]?[/]"
        if score.probs is None:
            videos.add_row(escape(score.video.name), truth, "[yellow]skipped[/]", "", "")
            continue
        predicted = labels[int(score.probs.argmax())]
        mark = (
            ""
            if score.video.label is None
            else "[green]right[/]"
            if predicted == score.video.label
            else "[red]wrong[/]"
        )
        videos.add_row(escape(score.video.name), truth, predicted, f"{score.probs.max():.2f}", mark)
    console.print(videos)
    if report.scored:
        per_class = Table(title="Accuracy per class")
        for column in ("class", "videos", "right", "accuracy"):
            per_class.add_column(column, justify="left" if column == "class" else "right")
        for label, total, right in report.per_class():
            accuracy = right / total if total else None
            colour = (
                "dim"
                if accuracy is None
                else "green"
                if accuracy >= 0.9
                else "yellow"
                if accuracy >= 0.6
                else "red"
            )
            shown = "-" if accuracy is None else f"{accuracy:.0%}"
            per_class.add_row(label, str(total), str(right), f"[{colour}]{shown}[/]")
        console.print(per_class)
        console.print(confusion_table(labels, report.confusion))
    accuracy = report.accuracy
    scored = len(report.scored)
    totals = (
        f"Accuracy {accuracy:.1%} ({int(report.confusion.trace())} of {scored} videos)"
        if accuracy is not None
        else "No class folders: predictions only"
    )
    speed = (
        f"{len(report.done)} videos ({report.stream_seconds:.0f} s of video) in "
        f"{report.seconds:.1f} s: {report.videos_per_s:.2f} videos/s"
    )
    skipped = f"; {len(report.skipped)} skipped" if report.skipped else ""
    console.print(f"{totals}; {speed}{skipped}", highlight=False)
