"""The ``rtnet`` command: builds the parser, runs the chosen command, turns errors into one line.

User errors (``RtnetError``) end with one line, ``rtnet: error: <message>``, and exit status 2;
``--debug`` adds the traceback. Ctrl-C, SIGTERM or SIGHUP end a run cleanly (outputs complete,
summary printed) with status 128 + the signal's number (130, 143, 129), and further signals are
ignored until the outputs are closed (``rtnet.cli.signals``). With ``--jsonl -``, a reader that
goes away (``| head -1``) ends the run quietly with status 141, as for any Unix tool.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import NoReturn

from rtnet import __version__
from rtnet.cli.commands import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    run_app,
    run_bench,
    run_weights_install,
    run_weights_report,
)
from rtnet.cli.options import add_run_options
from rtnet.consoles import log_handler, stderr_console
from rtnet.errors import RtnetError

EXIT_INTERNAL = 1
EXIT_USER_ERROR = 2

__all__ = ["EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USER_ERROR", "build_parser", "main"]

log = logging.getLogger("rtnet")


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with option errors in rtnet's one-line format."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"rtnet: error: {message}\n")


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
        add_run_options(
            app, profile=spec.uses_profile, tracking=spec.tracking, pose_model=not spec.tracking
        )
        app.set_defaults(handler=run_app, app=spec.name)
    # Custom classifiers: record clips, train on them, run the result like any app.
    from rtnet import record
    from rtnet.cli import training

    run = commands.add_parser(
        "run", parents=[common], help=training.RUN_HELP, description=training.RUN_HELP
    )
    add_run_options(run, profile=False, several_inputs=True)
    training.add_run_arguments(run)
    run.set_defaults(handler=run_app, app=None)
    train = commands.add_parser(
        "train", parents=[common], help=training.TRAIN_HELP, description=training.TRAIN_HELP
    )
    training.add_train_arguments(train)
    train.set_defaults(handler=training.run_train)
    from rtnet.cli import evaluate

    scorer = commands.add_parser(
        "eval", parents=[common], help=evaluate.EVAL_HELP, description=evaluate.EVAL_HELP
    )
    evaluate.add_eval_arguments(scorer)
    scorer.set_defaults(handler=evaluate.run_eval)
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
    from rtnet.cli import history

    past = commands.add_parser(
        "history", parents=[common], help=history.HISTORY_HELP, description=history.HISTORY_HELP
    )
    history.add_history_arguments(past, common)
    report = commands.add_parser(
        "report", parents=[common], help=history.REPORT_HELP, description=history.REPORT_HELP
    )
    history.add_report_arguments(report)
    return parser


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


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rtnet`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # Called without arguments, main is the process's entry point (the console script,
    # `python -m rtnet`) and the process ends with it: the run's signal handlers stay in place.
    args.owns_process = argv is None
    console = stderr_console()  # stdout stays free for `--jsonl -`
    handler = log_handler(console)  # piped: lines that do not wrap
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
