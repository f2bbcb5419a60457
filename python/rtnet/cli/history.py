"""``rtnet history`` (list, show, export, delete) and ``rtnet report``.

Kept free of heavy imports: matplotlib is imported only when a report is drawn.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from rtnet.consoles import stdout_console
from rtnet.errors import ConfigError
from rtnet.history.store import HistoryStore, Session, default_history_path
from rtnet.history.summary import clock, daily_totals, segments, weekly_totals

if TYPE_CHECKING:
    from rtnet.sinks.history import HistorySink

HISTORY_HELP = "list past sessions, with totals by day and by week"
REPORT_HELP = "write one session's report: an HTML page with plots"


def add_history_db_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--history-db",
        metavar="PATH",
        help=f"history database (default: $RTNET_HISTORY, else {default_history_path()})",
    )


def history_path(args: argparse.Namespace) -> Path:
    return Path(args.history_db) if getattr(args, "history_db", None) else default_history_path()


def _date(text: str) -> dt.datetime:
    """``--since``: a local date (2026-11-01) or date and time (2026-11-01T18:00)."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    return value if value.tzinfo is not None else value.astimezone()  # local time


def _session_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a session id") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a session id (ids start at 1)")
    return value


def add_history_arguments(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    add_history_db_option(parser)
    parser.add_argument("--since", type=_date, metavar="DATE", help="sessions from DATE on")
    parser.add_argument("--app", metavar="APP", help="only this app's sessions (e.g. fitness)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(handler=run_history_list)
    actions = parser.add_subparsers(dest="history_command", metavar="ACTION")
    show = actions.add_parser(
        "show", parents=[common], help="one session, with its timeline summarised"
    )
    show.add_argument("id", type=_session_id, metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON (with the full timeline)")
    add_history_db_option(show)
    show.set_defaults(handler=run_history_show)
    export = actions.add_parser(
        "export", parents=[common], help="write sessions as CSV or JSONL, for other tools"
    )
    form = export.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="one CSV row per session (default)")
    form.add_argument("--jsonl", action="store_true", help="one JSON object per session")
    export.add_argument("--timeline", action="store_true", help="JSONL: include each timeline")
    export.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    export.add_argument("--since", type=_date, metavar="DATE", help="sessions from DATE on")
    export.add_argument("--app", metavar="APP", help="only this app's sessions")
    add_history_db_option(export)
    export.set_defaults(handler=run_history_export)
    delete = actions.add_parser("delete", parents=[common], help="delete one session, or all")
    which = delete.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", type=_session_id, metavar="ID")
    which.add_argument("--all", action="store_true", help="delete every session")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_history_db_option(delete)
    delete.set_defaults(handler=run_history_delete)


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("id", nargs="?", type=_session_id, metavar="ID", help="session id")
    which.add_argument("--last", action="store_true", help="the latest session (the default)")
    parser.add_argument("--out", metavar="FILE", default="report.html", help="(report.html)")
    parser.add_argument("--png", action="store_true", help="also write each figure as a PNG")
    add_history_db_option(parser)
    parser.set_defaults(handler=run_report)


def history_sink(
    args: argparse.Namespace, app: str, profile: Mapping[str, Any] | None
) -> HistorySink | None:
    """The run's history sink, unless ``--no-history``. The database is opened (and checked:
    corrupt, locked, newer schema) here, before the run starts."""
    if args.no_history:
        return None
    from rtnet.sinks.history import HistorySink

    store = HistoryStore(history_path(args))
    return HistorySink(store, app=app, model="", profile=profile)


@contextmanager
def _open(args: argparse.Namespace) -> Iterator[HistoryStore]:
    store = HistoryStore(history_path(args), create=False)
    try:
        yield store
    finally:
        store.close()


def _day(session: Session) -> str:
    return session.started.astimezone().strftime("%Y-%m-%d %H:%M")


def _exercise(session: Session) -> str:
    tops = sorted(session.time_per_class.items(), key=lambda item: -item[1])
    return ", ".join(label for label, _ in tops[:2]) or "-"


def _reps(reps: dict[str, int]) -> str:
    return ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in reps.items() if count)


def sessions_table(sessions: list[Session]) -> Table:
    table = Table(title="sessions", title_justify="left")
    for name, justify in (
        ("id", "right"),
        ("started", "left"),
        ("app", "left"),
        ("model", "left"),
        ("length", "right"),
        ("active", "right"),
        ("kcal", "right"),
        ("mostly", "left"),
        ("reps", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in sessions:
        table.add_row(
            str(s.id),
            _day(s),
            s.app,
            s.model,
            clock(s.stream_seconds) + (" [yellow](stopped)[/]" if s.interrupted else ""),
            clock(s.active_seconds),
            "-" if s.total_kcal is None else f"{s.total_kcal:.1f}",
            _exercise(s),
            _reps(s.reps) or "-",
        )
    return table


def totals_table(title: str, totals: dict[dt.date, Any], label: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(label)
    table.add_column("sessions", justify="right")
    table.add_column("kcal", justify="right")
    table.add_column("active min", justify="right")
    table.add_column("reps")
    for day, t in totals.items():
        table.add_row(
            day.isoformat(),
            str(t.sessions),
            f"{t.kcal:.1f}",
            f"{t.active_seconds / 60:.1f}",
            _reps(dict(t.reps)) or "-",
        )
    return table


def run_history_list(args: argparse.Namespace, console: Console) -> int:
    with _open(args) as store:
        sessions = store.sessions(since=args.since, app=args.app)
    if args.json:
        print(json.dumps([s.as_dict() for s in sessions], indent=2))
        return 0
    out = stdout_console()
    if not sessions:
        out.print(f"no sessions in {store.path}" + (" match" if args.since or args.app else ""))
        return 0
    out.print(sessions_table(sessions))
    out.print(totals_table("by day", daily_totals(sessions), "day"))
    out.print(totals_table("by week", weekly_totals(sessions), "week of"))
    return 0


def run_history_show(args: argparse.Namespace, console: Console) -> int:
    with _open(args) as store:
        session = store.session(args.id)
    if args.json:
        print(json.dumps(session.as_dict(timeline=True), indent=2))
        return 0
    out = stdout_console()
    facts = Table(title=f"session {session.id}", show_header=False, title_justify="left")
    facts.add_column(style="bold")
    facts.add_column()
    for key, value in (
        ("app", session.app),
        ("model", session.model or "-"),
        ("source", session.source or "-"),
        ("started", _day(session)),
        ("length", clock(session.stream_seconds)),
        ("active", clock(session.active_seconds)),
        ("calories", "-" if session.total_kcal is None else f"{session.total_kcal:.2f} kcal"),
        ("reps", _reps(session.reps) or "-"),
        ("gestures", ", ".join(f"{g} ({clock(t)})" for t, g in session.gestures) or "-"),
        ("ended", "interrupted" if session.interrupted else "completed"),
    ):
        facts.add_row(key, value)
    out.print(facts)
    timeline = Table(title="timeline", title_justify="left")
    for name in ("from", "to", "top class", "mean MET", "kcal"):
        timeline.add_column(name, justify="left" if name == "top class" else "right")
    for seg in segments(session.timeline):
        timeline.add_row(
            clock(seg.start),
            clock(seg.end),
            seg.label,
            "-" if seg.met is None else f"{seg.met:.1f}",
            f"{seg.kcal:.2f}",
        )
    out.print(timeline)
    out.print(f"[dim]report: rtnet report {session.id} --out report.html[/]")
    return 0


CSV_FIELDS = (
    "id",
    "app",
    "model",
    "source",
    "started_at",
    "ended_at",
    "stream_seconds",
    "active_seconds",
    "total_kcal",
    "interrupted",
    "time_per_class",
    "reps",
    "gestures",
    "profile",
)


def _write_export(sessions: list[Session], args: argparse.Namespace, out: IO[str]) -> None:
    if args.jsonl:
        for s in sessions:
            out.write(json.dumps(s.as_dict(timeline=args.timeline)) + "\n")
        return
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for s in sessions:
        row = s.as_dict()
        writer.writerow(
            {
                key: json.dumps(row[key]) if isinstance(row[key], dict | list) else row[key]
                for key in CSV_FIELDS
            }
        )


def run_history_export(args: argparse.Namespace, console: Console) -> int:
    if args.timeline and not args.jsonl:
        raise ConfigError("--timeline needs --jsonl (a CSV row holds one session)")
    with _open(args) as store:
        sessions = store.sessions(since=args.since, app=args.app)
        if args.timeline:
            sessions = [store.session(s.id) for s in sessions]
    if args.out is None:
        _write_export(sessions, args, sys.stdout)
        return 0
    path = Path(args.out)
    try:
        with path.open("w", encoding="utf-8", newline="") as out:
            _write_export(sessions, args, out)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    console.print(f"exported {len(sessions)} sessions to {path}")
    return 0


def run_history_delete(args: argparse.Namespace, console: Console) -> int:
    with _open(args) as store:
        if args.id is not None:
            store.session(args.id, timeline=False)  # a missing id is an error, not "0 deleted"
        what = "every session" if args.all else f"session {args.id}"
        if not args.yes:
            if not sys.stdin.isatty():
                raise ConfigError(f"not deleting {what} without confirmation: add --yes")
            answer = input(f"delete {what} from {store.path}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                console.print("nothing deleted")
                return 1
        deleted = store.delete(None if args.all else args.id)
    console.print(f"deleted {deleted} session{'s' if deleted != 1 else ''}")
    return 0


def run_report(args: argparse.Namespace, console: Console) -> int:
    from rtnet.history.report import write_report

    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        raise ConfigError(f"cannot write report {out}: not a file in an existing folder")
    with _open(args) as store:
        session_id = args.id if args.id is not None else store.last_session_id()
        session = store.session(session_id)
        history = store.sessions()
    try:
        written = write_report(session, history, out, png=args.png)
    except OSError as exc:
        raise ConfigError(f"cannot write report {out}: {exc.strerror or exc}") from None
    for path in written:
        console.print(f"wrote {path}")
    return 0
