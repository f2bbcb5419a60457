"""What each command does: the CLI's handlers wire sources, network, app and sinks together."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from rtnet.cli.options import setup_torch
from rtnet.errors import ConfigError

if TYPE_CHECKING:
    from rtnet.network import Network

EXIT_OK = 0
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

log = logging.getLogger("rtnet")


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
    from rtnet.cli.training import classifier_run
    from rtnet.engine import Engine
    from rtnet.labels import load_labels
    from rtnet.sinks.base import Sink
    from rtnet.sinks.jsonl import JsonlSink
    from rtnet.sinks.terminal import TerminalSink
    from rtnet.sinks.videofile import VideoFileSink
    from rtnet.sinks.window import WindowSink
    from rtnet.sources import open_source

    # `rtnet run --classifier DIR`: the app comes from the checkpoint (read first: early errors).
    classifier = classifier_run(args) if args.app is None else None
    spec = classifier.spec if classifier is not None else APPS[args.app]
    title = args.title or spec.title
    # Everything a user can get wrong is checked before anything heavy starts.
    profile = None
    if spec.uses_profile:
        gender = None if args.gender == "other" else args.gender
        profile = Profile(args.weight, args.height, args.age, gender).validated()
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
    from rtnet.models import build_backbone, build_head
    from rtnet.network import Network
    from rtnet.weights import select_model

    setup_torch(args.device, args.threads)
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


def _same_file(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()
