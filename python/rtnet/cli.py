"""The ``rtnet`` command: parses options and wires sources, network, app and sinks together.

User errors (``RtnetError``) end with one line, ``rtnet: error: <message>``, and exit status 2;
``--debug`` adds the traceback. Ctrl-C ends a run cleanly (outputs complete, summary printed) with
status 130; a second Ctrl-C aborts at once.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from rich.console import Console
from rich.logging import RichHandler

from rtnet import __version__
from rtnet.errors import ConfigError, RtnetError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

if TYPE_CHECKING:
    from rtnet.network import Network

log = logging.getLogger("rtnet")


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with option errors in rtnet's one-line format."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"rtnet: error: {message}\n")


def _add_run_options(parser: argparse.ArgumentParser, *, profile: bool) -> None:
    source = parser.add_argument_group("input")
    choice = source.add_mutually_exclusive_group()
    choice.add_argument("--path-in", metavar="FILE", help="read a video file instead of a camera")
    choice.add_argument(
        "--camera-id", type=int, default=0, metavar="N", help="camera to read (default: 0)"
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
    model = parser.add_argument_group("model")
    model.add_argument("--weights-dir", metavar="DIR", help="folder holding the SenseKit weights")
    model.add_argument("--model", choices=("efficientnet", "mobilenet"), help="backbone to use")
    model.add_argument("--version", choices=("pro", "lite"), help="weights version to use")
    model.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where the network runs (default: cpu)",
    )
    model.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="backbone arithmetic (bf16 needs native CPU support)",
    )
    model.add_argument("--threads", type=int, metavar="N", help="PyTorch CPU threads")
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


def build_parser() -> ArgumentParser:
    from rtnet.apps import APPS

    parser = ArgumentParser(
        prog="rtnet",
        description="Real-time action recognition on a CPU, from a camera or a video file.",
    )
    parser.add_argument("--version", action="version", version=f"rtnet {__version__}")
    common = ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks and library logs")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for spec in APPS.values():
        app = commands.add_parser(
            spec.name, parents=[common], help=spec.help, description=spec.help
        )
        _add_run_options(app, profile=spec.uses_profile)
        app.set_defaults(handler=run_app, app=spec.name)
    # Custom classifiers: record clips, train on them, run the result like any app.
    from rtnet import record
    from rtnet.training import commands as training

    run = commands.add_parser(
        "run", parents=[common], help=training.RUN_HELP, description=training.RUN_HELP
    )
    _add_run_options(run, profile=False)
    training.add_run_arguments(run)
    run.set_defaults(handler=run_app, app=None)
    train = commands.add_parser(
        "train", parents=[common], help=training.TRAIN_HELP, description=training.TRAIN_HELP
    )
    training.add_train_arguments(train)
    train.set_defaults(handler=training.run_train)
    recorder = commands.add_parser(
        "record", parents=[common], help=record.HELP, description=record.HELP
    )
    record.add_arguments(recorder)
    recorder.set_defaults(handler=record.run)
    from rtnet import bench

    bencher = commands.add_parser(
        "bench",
        parents=[common],
        help="measure speed: preprocessing, backbones (plain/fast/bf16), apps end to end",
        description="Measure preprocessing, the backbones (plain vs fast vs bf16, side by side, "
        "with their agreement) and apps end to end; stand-in weights if none are found.",
    )
    bench.add_arguments(bencher)
    bencher.set_defaults(handler=run_bench)
    weights = commands.add_parser(
        "weights",
        parents=[common],
        help="list the SenseKit weight files rtnet finds",
        description="List every model/version/file: found or missing, and whether it loads.",
    )
    weights.add_argument("--weights-dir", metavar="DIR", help="folder to inspect")
    weights.set_defaults(handler=run_weights_report)
    weights_commands = weights.add_subparsers(dest="weights_command", metavar="ACTION")
    install = weights_commands.add_parser(
        "install",
        parents=[common],
        help="validate and copy weights into the user data folder",
        description="Copy an unpacked SenseKit folder or .zip into the user data folder, "
        "after validating every file (nothing is installed if one is bad).",
    )
    install.add_argument("path", metavar="PATH", help="folder or .zip with the weight files")
    install.add_argument("--dest", metavar="DIR", help="install here instead")
    install.set_defaults(handler=run_weights_install)
    return parser


def run_bench(args: argparse.Namespace, console: Console) -> int:
    from rtnet.bench import run_bench as measure

    return measure(args)


def run_weights_report(args: argparse.Namespace, console: Console) -> int:
    from rtnet.weights import print_report

    print_report(args.weights_dir, console=Console())
    return EXIT_OK


def run_weights_install(args: argparse.Namespace, console: Console) -> int:
    from rtnet.weights import install

    result = install(args.path, args.dest)
    out = Console()
    for path in result.installed:
        out.print(f"installed {path}")
    for name in result.ignored:
        out.print(f"[dim]ignored {name} (not a SenseKit weight file)[/]")
    return EXIT_OK


def run_app(args: argparse.Namespace, console: Console) -> int:
    # Imported here so `rtnet --help` and `rtnet weights` start without torch and OpenCV.
    from rtnet.apps import APPS, App, Profile
    from rtnet.engine import Engine
    from rtnet.labels import load_labels
    from rtnet.sinks.base import Sink
    from rtnet.sinks.jsonl import JsonlSink
    from rtnet.sinks.terminal import TerminalSink
    from rtnet.sinks.videofile import VideoFileSink
    from rtnet.sinks.window import WindowSink
    from rtnet.sources import open_source
    from rtnet.training.commands import classifier_run

    # `rtnet run --classifier DIR`: the app comes from the checkpoint (read first: early errors).
    classifier = classifier_run(args) if args.app is None else None
    spec = classifier.spec if classifier is not None else APPS[args.app]
    title = args.title or spec.title
    # Everything a user can get wrong is checked before anything heavy starts.
    profile = None
    if spec.uses_profile:
        gender = None if args.gender == "other" else args.gender
        profile = Profile(args.weight, args.height, args.age, gender).validated()
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"invalid --threads {args.threads}: expected 1 or more")
    if args.camera_id < 0:
        raise ConfigError(f"invalid --camera-id {args.camera_id}: expected 0 or more")
    for option, output in (("--path-out", args.path_out), ("--jsonl", args.jsonl)):
        if args.path_in and output and output != "-" and _same_file(output, args.path_in):
            raise ConfigError(f"{option} {output} would overwrite the input video")
    sinks: list[Sink] = []
    if args.jsonl:
        sinks.append(JsonlSink(args.jsonl))
    if args.path_out:
        sinks.append(VideoFileSink(args.path_out))
    if not args.no_window:
        sinks.append(WindowSink(title))
    if not args.quiet:
        sinks.append(TerminalSink(title, console))
    source = open_source(
        path_in=args.path_in, camera_id=args.camera_id, mirror=args.mirror, realtime=args.realtime
    )
    try:
        if classifier is not None:
            network, label = classifier.load_network(args)
        else:
            network, label = _load_network(spec.name, spec.heads, args)
        log.info("%s: %s on %s", spec.name, label, source.description)
        engine = Engine(source, network, App(spec, load_labels(), profile), sinks, title=title)
        with _stop_on_sigint() as stop:
            engine.run(stop)
    finally:
        source.close()  # also when loading the network failed
    return EXIT_INTERRUPTED if stop.is_set() else EXIT_OK


def _load_network(task: str, heads: Sequence[str], args: argparse.Namespace) -> tuple[Network, str]:
    import torch

    from rtnet.models import build_backbone, build_head
    from rtnet.network import Network
    from rtnet.weights import select_model

    if args.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: PyTorch finds no CUDA device here; use --device cpu")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    files = select_model(task, args.model, args.version, args.weights_dir)  # type: ignore[arg-type]
    backbone = build_backbone(
        files.model, files.backbone, device=args.device, precision=args.precision
    )
    built = {
        kind: build_head(kind, files.heads[kind], device=args.device)  # type: ignore[index, arg-type]
        for kind in heads
    }
    return Network(backbone, built, device=args.device), f"{files.label} ({args.precision})"


@contextlib.contextmanager
def _stop_on_sigint() -> Iterator[threading.Event]:
    """First Ctrl-C: ask the engine to stop at the next frame (outputs stay complete).
    Second Ctrl-C: the usual KeyboardInterrupt."""
    stop = threading.Event()

    def handle(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals only reach the main thread; nothing to install
        return
    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _quiet_opencv(enabled: bool) -> Iterator[None]:
    """OpenCV and FFmpeg log to stderr on bad files; rtnet reports those itself, in one line."""
    if not enabled:
        yield
        return
    # FFmpeg's own messages ("EBML header parsing failed") go through OpenCV's logging only with
    # this set, and OpenCV reads it once, when it first opens a video: set it before that.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    import cv2

    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(0)  # silent
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _same_file(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rtnet`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=True)  # stdout stays free for `--jsonl -`
    handler = RichHandler(console=console, show_path=False, show_time=False)
    log.addHandler(handler)
    log.setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    try:
        with _quiet_opencv(not args.debug):
            return int(args.handler(args, console))
    except RtnetError as err:
        if args.debug:
            traceback.print_exc()
        print(f"rtnet: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("rtnet: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        if args.debug:
            traceback.print_exc()
        print(
            f"rtnet: internal error: {type(err).__name__}: {_one_line(err)} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    finally:
        log.removeHandler(handler)
