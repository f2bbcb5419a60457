"""The commands of custom classifiers: ``rtnet train`` and ``rtnet run --classifier``.

Kept free of heavy imports (torch, OpenCV) so that building the parser stays fast; the work is
imported when a command runs.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rtnet.cli.options import add_threads_option, setup_torch
from rtnet.training import DEFAULT_CONTEXT, DEFAULT_EPOCHS
from rtnet.training.backbones import BACKBONE_NAMES

if TYPE_CHECKING:
    from rich.console import Console

    from rtnet.apps import AppSpec
    from rtnet.training.classifier import Checkpoint

TRAIN_HELP = "train a classifier of your own classes on a dataset of videos"
RUN_HELP = "run a classifier trained with `rtnet train`"
SMOOTHING_STEPS = 2  # the head already sees seconds; this only steadies the displayed class
DISPLAY_THRESHOLD = 0.5


# ---------------------------------------------------------------------------------------------
# rtnet train


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dataset", metavar="DATASET", help="folder with videos_train/<class>/ and videos_valid/"
    )
    parser.add_argument(
        "--backbone",
        choices=BACKBONE_NAMES,
        help="feature extractor (default: a SenseKit backbone if its weights are found, "
        "else the built-in lite0, which sees the whole picture; pose: the built-in pose and "
        "hand landmarks, for classes told apart by how a person moves, whoever and wherever "
        "they are)",
    )
    parser.add_argument("--version", choices=("pro", "lite"), help="SenseKit weights version")
    parser.add_argument("--weights-dir", metavar="DIR", help="folder holding the SenseKit weights")
    parser.add_argument(
        "--finetune-layers",
        type=int,
        default=0,
        metavar="N",
        help="also train the last N backbone layers (default: 0, the head only; on small "
        "datasets it seldom helps: the head on a 4x4 grid sees more than these layers can learn "
        "from a few clips, and training takes several times longer)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=DEFAULT_EPOCHS,
        metavar="E",
        help=f"most epochs to train (default: {DEFAULT_EPOCHS}; stops early once validation "
        "accuracy stops improving)",
    )
    parser.add_argument(
        "--context",
        type=float,
        default=DEFAULT_CONTEXT,
        metavar="S",
        help=f"seconds of video the classifier looks at at once (default: {DEFAULT_CONTEXT:g}; "
        "longer for slow or long movements)",
    )
    parser.add_argument(
        "--mirror",
        action="store_true",
        help="also train on mirror images of the clips; only where no class is the mirror of "
        "another (left/right, clockwise/counter-clockwise)",
    )
    parser.add_argument(
        "--no-augment",
        dest="augment",
        action="store_false",
        help="train on the clips as they are (default: also faster, slower, shifted, brighter "
        "and darker)",
    )
    parser.add_argument(
        "--name",
        metavar="NAME",
        help="checkpoint folder under DATASET/checkpoints (default: the backbone's name)",
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite a checkpoint of that name if there is one"
    )
    add_threads_option(parser)


def run_train(args: argparse.Namespace, console: Console) -> int:
    from rtnet.consoles import stdout_console
    from rtnet.training.train import Trainer, TrainOptions

    setup_torch(threads=args.threads)
    options = TrainOptions(
        dataset=Path(args.dataset),
        backbone=args.backbone,
        version=args.version,
        weights_dir=Path(args.weights_dir) if args.weights_dir else None,
        finetune_layers=args.finetune_layers,
        epochs=args.epochs,
        name=args.name,
        force=args.force,
        context=args.context,
        augment=args.augment,
        mirror=args.mirror,
    )
    Trainer(options, stdout_console()).run()  # progress and report on stdout
    return 0


# ---------------------------------------------------------------------------------------------
# rtnet run --classifier


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--classifier",
        required=True,
        metavar="DIR",
        help="a folder written by `rtnet train` (DATASET/checkpoints/NAME)",
    )


@dataclass(frozen=True)
class ClassifierRun:
    """What ``rtnet run`` needs from a checkpoint: the app it is (its network is found and built
    as every app's, by rtnet.resolve)."""

    checkpoint: Checkpoint
    spec: AppSpec


def classifier_run(args: argparse.Namespace) -> ClassifierRun:
    """Reads the checkpoint named by ``--classifier`` (errors before any other work starts)."""
    from rtnet.apps import AppSpec
    from rtnet.training.classifier import OUTPUT, read_checkpoint

    checkpoint = read_checkpoint(args.classifier)
    spec = AppSpec(
        name=checkpoint.folder.name,
        help=RUN_HELP,
        heads=(OUTPUT,),
        classifier=OUTPUT,
        smoothing=SMOOTHING_STEPS,
        display_threshold=DISPLAY_THRESHOLD,
        time_per_class=True,
        class_names=checkpoint.labels,
    )
    return ClassifierRun(checkpoint, spec)
