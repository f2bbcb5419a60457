"""What each command does: the CLI's handlers wire sources, network, app and sinks together."""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from rtnet.cli.options import setup_torch
from rtnet.cli.signals import EXIT_BROKEN_PIPE, exit_status, stop_on_signals
from rtnet.consoles import stdout_console
from rtnet.errors import ConfigError

if TYPE_CHECKING:
    from rtnet.resolve import Loaded, Located
    from rtnet.sources import Source
    from rtnet.training.classifier import Checkpoint

EXIT_OK = 0
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it (signals.exit_status)

log = logging.getLogger("rtnet")


def run_bench(args: argparse.Namespace, console: Console) -> int:
    from rtnet.bench import run_bench as measure

    return measure(args)


def run_weights_report(args: argparse.Namespace, console: Console) -> int:
    from rtnet.weights import print_report

    print_report(args.weights_dir, console=stdout_console())
    return EXIT_OK


def run_weights_install(args: argparse.Namespace, console: Console) -> int:
    from rtnet.weights import install

    result = install(args.path, args.dest)
    out = stdout_console()
    for path in result.installed:
        out.print(f"installed {path}")
    for name in result.ignored:
        out.print(f"[dim]ignored {name} (not a SenseKit weight file)[/]")
    return EXIT_OK


def run_app(args: argparse.Namespace, console: Console) -> int:
    """Runs the app, once per input where ``--path-in`` takes several (rtnet.cli.inputs)."""
    from rtnet.cli.inputs import plan_inputs

    if not isinstance(args.path_in, list):
        return _run_input(args, console)
    runs = plan_inputs(args.path_in, args.jsonl, args.path_out)
    networks: dict[str, Loaded] = {}  # built by the first run, reused by the others
    for run in runs:
        one = argparse.Namespace(**vars(args), networks=networks)
        one.path_in, one.jsonl, one.path_out = run.path_in, run.jsonl, run.path_out
        # Between runs Ctrl-C must still stop the process: only the last run may leave the
        # stop signals ignored (see stop_on_signals).
        one.owns_process = getattr(args, "owns_process", False) and run is runs[-1]
        status = _run_input(one, console)
        if status != EXIT_OK:
            return status  # interrupted, or the JSONL's reader went away: no more runs
    return EXIT_OK


def _run_input(args: argparse.Namespace, console: Console) -> int:
    # Imported here so `rtnet --help` and `rtnet weights` start without torch and OpenCV.
    from rtnet.apps import APPS, App, Profile
    from rtnet.cli.history import history_sink
    from rtnet.cli.training import classifier_run
    from rtnet.engine import Engine
    from rtnet.labels import load_labels
    from rtnet.resolve import check_precision, runs_on_pose
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
    if args.landmarks_in:
        _check_outputs(args.landmarks_in, args.path_out, args.jsonl, "landmarks")
    else:
        _check_outputs(args.path_in, args.path_out, args.jsonl)
    # Opened (and checked: corrupt, locked, newer) before anything else starts.
    history = history_sink(args, spec.name, None if profile is None else asdict(profile))

    def open_input() -> Source:
        return open_source(
            path_in=args.path_in,
            camera_id=args.camera_id,
            mirror=args.mirror,
            realtime=args.realtime,
            landmarks_in=args.landmarks_in,
            frame_size=args.frame_size,
        )

    # In the order a user fixes things: the files named (a typo), then the network (without its
    # weights nothing else matters), then the window and the camera.
    source = open_input() if args.path_in or args.landmarks_in else None
    try:
        sinks: list[Sink] = []
        # The video first: its encoder is checked when the run starts, before the JSONL exists.
        if args.path_out:
            sinks.append(VideoFileSink(args.path_out))
        if args.jsonl:
            sinks.append(JsonlSink(args.jsonl))
        located = _locate_network(args, classifier.checkpoint if classifier else None, source)
        check_precision(located, args.precision)
        log.info("%s", located.reason)
        if runs_on_pose(located):
            spec = spec.on_pose()
        if not args.no_window:
            sinks.append(WindowSink(title))
        if not args.quiet:
            sinks.append(TerminalSink(title, console, model=located.reason))
        if history is not None:
            sinks.append(history)
        if source is None:
            source = open_input()
        loaded = _load_network(located, args)
        log.info("%s", loaded.precision.reason)
        log.info("%s: %s on %s", spec.name, located.label, source.description)
        if history is not None:
            history.model = f"{located.label} ({loaded.precision.precision})"
        engine = Engine(
            source, loaded.network, App(spec, load_labels(), profile), sinks, title=title
        )
        # A process that ends after this run then ignores late signals: see stop_on_signals.
        with stop_on_signals(restore=not getattr(args, "owns_process", False)) as stop:
            engine.run(stop.event)
    finally:
        if source is not None:
            source.close()  # also when loading the network failed
    if history is not None and history.session_id is not None:
        log.info(
            "session %d saved in %s; its report: rtnet report %d --out report.html",
            history.session_id,
            history.path,
            history.session_id,
        )
    if stop.signum is not None:
        return exit_status(stop.signum)
    if any(isinstance(sink, JsonlSink) and sink.reader_gone for sink in sinks):
        return EXIT_BROKEN_PIPE  # `--jsonl - | head`: quiet, as the reader's end of a pipe
    return EXIT_OK


def _locate_network(
    args: argparse.Namespace, classifier: Checkpoint | None, source: Source | None
) -> Located:
    """The network the run's options ask for, found but not built (see rtnet.resolve)."""
    from rtnet.resolve import Request, resolve

    recorded = None
    if args.landmarks_in:  # the source replays the landmarks: no tracker runs
        from rtnet.landmarks_in import LandmarksFile

        assert isinstance(source, LandmarksFile)
        recorded = source
    # A camera is mirrored unless --no-mirror, a file only with --mirror (see open_source); a
    # recording as it says.
    mirrored = args.mirror if args.mirror is not None else args.path_in is None
    if recorded is not None:
        mirrored = recorded.mirrored
    return resolve(
        Request(
            app=args.app,
            model=getattr(args, "model", None),  # tracking apps take none of these three
            version=getattr(args, "version", None),
            classifier=classifier,
            weights_dir=getattr(args, "weights_dir", None),
            hands=getattr(args, "hands", True),
            mirrored=mirrored,
            recorded=recorded,
        )
    )


def _load_network(located: Located, args: argparse.Namespace) -> Loaded:
    from rtnet.resolve import load

    # Several inputs: the network is built once (each run resets its temporal state).
    built: dict[str, Loaded] | None = getattr(args, "networks", None)
    if built is not None and located.reason in built:
        return built[located.reason]
    setup_torch(args.device, args.threads)
    loaded = load(located, device=args.device, precision=args.precision)
    if built is not None:
        built[located.reason] = loaded
    return loaded


def _check_outputs(
    path_in: str | None, path_out: str | None, jsonl: str | None, what: str = "video"
) -> None:
    """No output may overwrite the input (``what``: a video, or landmarks) or the other output."""
    outputs = [("--path-out", path_out), ("--jsonl", None if jsonl == "-" else jsonl)]
    for option, output in outputs:
        if path_in and output and _same_file(output, path_in):
            raise ConfigError(f"{option} {output} would overwrite the input {what}")
    if path_out and jsonl and jsonl != "-" and _same_file(path_out, jsonl):
        raise ConfigError(f"--jsonl and --path-out name the same file {jsonl}: give two files")


def _same_file(a: str, b: str) -> bool:
    # samefile also sees through hard links; resolve covers paths that do not exist yet.
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()
