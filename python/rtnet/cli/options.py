"""Options shared by the commands, and the one place they are validated and applied.

Kept free of heavy imports: building the parser must not import torch or OpenCV.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from rtnet.cli.history import add_history_db_option
from rtnet.errors import ConfigError
from rtnet.precision import DEFAULT_PRECISION, PRECISION_OPTIONS

# Beyond these an option is a typo, and passing it on would overflow a C int (an OverflowError
# deep inside torch or OpenCV instead of a one-line error).
MAX_THREADS = 1024
MAX_CAMERA_ID = 1023


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer in [low, high], else a one-line option error
    (argparse prefixes the option's name)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: expected {low} to {high}")
        return value

    return parse


def frame_size(text: str) -> tuple[int, int]:
    """An argparse ``type``: ``640x480``, a width and a height in pixels."""
    width, _, height = text.lower().partition("x")
    try:
        size = (int(width), int(height))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 640x480") from None
    if min(size) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be 1 or more")
    return size


def add_threads_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--threads",
        type=bounded_int(1, MAX_THREADS),
        metavar="N",
        help="PyTorch CPU threads (default: PyTorch's choice, one per core)",
    )


def setup_torch(device: str = "cpu", threads: int | None = None) -> None:
    """Apply ``--device`` and ``--threads`` before any network is built."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: PyTorch finds no CUDA device here; use --device cpu")
    if threads is not None:
        if threads < 1:  # the parser checks this; library callers may not have
            raise ConfigError(f"invalid --threads {threads}: expected 1 or more")
        torch.set_num_threads(threads)


def add_run_options(
    parser: argparse.ArgumentParser,
    *,
    profile: bool,
    tracking: bool = False,
    pose_model: bool = False,
    several_inputs: bool = False,
) -> None:
    """The options every app takes; ``tracking`` apps run the built-in landmark models, so they
    take ``--hands`` instead of the SenseKit weights' options. ``pose_model``: ``--model pose``
    is offered (the built-in pose models, see rtnet.resolve). ``several_inputs``: ``--path-in``
    takes several files or a folder, one run each (rtnet.cli.inputs)."""
    source = parser.add_argument_group("input")
    choice = source.add_mutually_exclusive_group()
    if several_inputs:
        choice.add_argument(
            "--path-in",
            nargs="+",
            action="extend",
            metavar="FILE",
            help="read video files (or every video in a folder), one run each, instead of a "
            "camera; with several, --jsonl and --path-out name folders",
        )
    else:
        choice.add_argument(
            "--path-in", metavar="FILE", help="read a video file instead of a camera"
        )
    choice.add_argument(
        "--camera-id",
        type=bounded_int(0, MAX_CAMERA_ID),
        default=0,
        metavar="N",
        help="camera to read (default: 0)",
    )
    choice.add_argument(
        "--landmarks-in",
        metavar="FILE",
        help="replay the landmarks `rtnet pose --jsonl` wrote, instead of video (no tracking)",
    )
    source.add_argument(
        "--frame-size",
        type=frame_size,
        metavar="WxH",
        help="--landmarks-in: the frame size the landmarks are normalised to, for files that "
        'record none ("size")',
    )
    source.add_argument(
        "--realtime",
        action="store_true",
        help="pace a video file like a live camera (clips may be dropped)",
    )
    source.add_argument(
        "--mirror",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="flip frames left-right (default: on for a camera, off for a file)",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--path-out",
        metavar="FILE",
        help="write the annotated video (16 fps; .mp4, .mkv, .avi, .mov, .m4v)",
    )
    output.add_argument(
        "--jsonl",
        metavar="FILE",
        help="write one JSON object per model step ('-': standard output)",
    )
    output.add_argument("--title", help="window and panel title")
    output.add_argument("--no-window", action="store_true", help="do not open a window")
    output.add_argument("--quiet", action="store_true", help="no terminal UI or summary")
    add_history_db_option(output)
    output.add_argument(
        "--no-history", action="store_true", help="do not keep this run in the workout history"
    )
    model = parser.add_argument_group("model")
    if tracking:
        model.add_argument(
            "--hands",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="track the hands too, not only the body (default: on)",
        )
    else:
        model.add_argument(
            "--weights-dir", metavar="DIR", help="folder holding the SenseKit weights"
        )
        models = ("efficientnet", "mobilenet") + (("pose",) if pose_model else ())
        model.add_argument(
            "--model",
            choices=models,
            help="backbone to use"
            + (" (pose: the built-in pose models, no weights needed)" if pose_model else ""),
        )
        model.add_argument("--version", choices=("pro", "lite"), help="weights version to use")
    model.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where the network runs (default: cpu)",
    )
    model.add_argument(
        "--precision",
        choices=PRECISION_OPTIONS,
        default=DEFAULT_PRECISION,
        help="backbone arithmetic (default: auto, bf16 where it is measured faster than fp32 "
        "and agrees with it; bf16 needs native CPU support)",
    )
    add_threads_option(model)
    if profile:
        person = parser.add_argument_group("profile (for calories)")
        person.add_argument(
            "--weight",
            type=float,
            default=70.0,
            metavar="KG",
            help="body weight in kg (default: 70)",
        )
        person.add_argument(
            "--height", type=float, default=170.0, metavar="CM", help="height in cm (default: 170)"
        )
        person.add_argument(
            "--age", type=float, default=30.0, metavar="YEARS", help="age in years (default: 30)"
        )
        person.add_argument(
            "--gender",
            choices=("male", "female", "other"),
            default="other",
            help="(default: other, i.e. unspecified)",
        )
