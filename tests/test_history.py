"""The workout history: schema and migrations, the sink, concurrent writers, interrupted runs,
and the `rtnet history` commands."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import multiprocessing
import signal
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from engine_helpers import run_rtnet, start_gestures, wait_for_lines, write_long_video
from rtnet.apps import GESTURES, App, StepResult, Summary
from rtnet.engine import Engine
from rtnet.errors import ConfigError
from rtnet.history import SCHEMA_VERSION, HistoryError, HistoryStore, TimelineRow
from rtnet.history.store import MIGRATIONS
from rtnet.history.summary import IDLE_CLASSES, daily_totals, segments, weekly_totals
from rtnet.labels import load_labels
from rtnet.sinks.base import RunStats, Sink
from rtnet.sinks.history import FLUSH_EVERY_S, HistorySink
from test_engine import ListSource, ScriptedNetwork

# --------------------------------------------------------------------------------------------
# schema and migrations


def test_new_database_has_the_current_schema_wal_and_foreign_keys(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.db") as store:
        assert store.version == SCHEMA_VERSION == len(MIGRATIONS)
        db = store._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        session = store.begin_session("fitness", profile=None)
        store.append(
            session,
            [TimelineRow(0, 0.25, "Squats")],
            stream_seconds=0.25,
            total_kcal=None,
            active_seconds=0.25,
        )
        store.delete(session)  # the timeline goes with its session (ON DELETE CASCADE)
        assert db.execute("SELECT COUNT(*) FROM timeline").fetchone()[0] == 0


def _version_1(path: Path) -> None:
    """A database as rtnet's first history release wrote it."""
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO sessions (app, started_at, stream_seconds, total_kcal) "
        "VALUES ('fitness', '2026-11-02T10:00:00+00:00', 1.0, 2.5)"
    )
    rows = [
        (1, 0, 0.25, "Squats", 5.0, None, 0.5, None),
        (1, 1, 0.50, "Squats", 2.0, None, 1.0, None),  # under 3 MET: not active
        (1, 2, 0.75, "Doing nothing", None, None, 1.5, None),  # idle class
        (1, 3, 1.00, "Pushups", None, None, 2.5, None),  # no MET: its class decides
    ]
    db.executemany("INSERT INTO timeline VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.close()


def test_migrates_from_version_1_keeping_the_data(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _version_1(path)
    with HistoryStore(path) as store:
        assert store.version == SCHEMA_VERSION
        session = store.session(1)
    assert session.total_kcal == 2.5 and [r.top for r in session.timeline] == [
        "Squats",
        "Squats",
        "Doing nothing",
        "Pushups",
    ]
    assert session.active_seconds == pytest.approx(0.5)  # backfilled: steps 0 and 3
    assert all(r.fired is None for r in session.timeline)  # the column version 2 added


def test_each_migration_step_applies_on_its_own(tmp_path: Path) -> None:
    # From every version reached so far, opening brings the file to the newest one.
    for start in range(SCHEMA_VERSION + 1):
        path = tmp_path / f"v{start}.db"
        db = sqlite3.connect(path, isolation_level=None)
        for script in MIGRATIONS[:start]:
            db.executescript(script)
        db.execute(f"PRAGMA user_version = {start}")
        db.close()
        with HistoryStore(path) as store:
            assert store.version == SCHEMA_VERSION


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(HistoryError, match="newer than this rtnet"):
        HistoryStore(path)


def test_a_corrupt_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(HistoryError, match=r"is corrupt.*--no-history"):
        HistoryStore(path)


def test_idle_classes_are_labels_of_the_label_sets() -> None:
    labels = load_labels()
    for name in IDLE_CLASSES:
        assert name in labels.fitness and name in labels.gestures


# --------------------------------------------------------------------------------------------
# the sink


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _result(step: int, top: str, met: float, kcal: float) -> StepResult:
    record = {"step": step, "time": 0.25 * (step + 1), "top": {"label": top}, "met": met}
    return StepResult(step=step, time=0.25 * (step + 1), record=record, calories=kcal)


def _stats(interrupted: bool = False) -> RunStats:
    return RunStats(source="test.mp4", live=False, interrupted=interrupted)


def test_sink_writes_in_batches_and_finishes_the_row(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.db")
    clock = _Clock()
    sink = HistorySink(store, app="fitness", model="m", profile={"weight": 65}, clock=clock)
    sink.start(_stats())
    reader = HistoryStore(tmp_path / "h.db")
    batches = []
    for step in range(40):
        clock.now = step * 0.1  # 10 steps a second of wall time
        exercising = step < 30
        met = 5.0 if exercising else 1.0
        sink.on_step(
            _result(step, "Squats" if exercising else "Doing nothing", met, step), _stats()
        )
        batches.append(len(reader.session(sink.session_id or 0).timeline))
    # Committed every FLUSH_EVERY_S (2 s = 20 steps here), never step by step.
    assert sorted(set(batches)) == [0, 21]
    assert FLUSH_EVERY_S == 2.0
    summary = Summary(duration=10.0, calories=39.0)
    summary.time_per_class["Squats"] = 7.5
    sink.close(summary, _stats())
    session = reader.session(sink.session_id or 0)
    assert len(session.timeline) == 40 and not session.interrupted
    assert session.ended_at is not None and session.total_kcal == 39.0
    assert session.active_seconds == pytest.approx(7.5)  # 30 steps >= 3 MET
    assert session.profile == {"weight": 65} and session.source == "test.mp4"


def test_a_locked_database_does_not_stop_the_run_and_is_reported_at_the_end(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.db"
    store = HistoryStore(path, busy_timeout_ms=50)
    clock = _Clock()
    sink = HistorySink(store, app="fitness", model="m", profile=None, clock=clock)
    sink.start(_stats())
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    for step in range(30):
        clock.now = step * 0.25
        sink.on_step(_result(step, "Squats", 5.0, step), _stats())  # never raises
    other.execute("ROLLBACK")
    other.close()
    with pytest.raises(HistoryError, match="locked by another program"):
        sink.close(Summary(), _stats())


def _writer(path: str, app: str, sessions: int) -> None:
    store = HistoryStore(path)
    for _ in range(sessions):
        session = store.begin_session(app, profile=None)
        for batch in range(5):
            rows = [TimelineRow(s, 0.25 * (s + 1), app) for s in range(batch * 8, batch * 8 + 8)]
            store.append(
                session, rows, stream_seconds=rows[-1].time, total_kcal=None, active_seconds=0.0
            )
        store.end_session(
            session,
            stream_seconds=10.0,
            total_kcal=None,
            time_per_class={},
            reps=None,
            gestures=None,
            active_seconds=0.0,
            interrupted=False,
        )
    store.close()


def test_two_processes_write_the_same_database(tmp_path: Path) -> None:
    path = str(tmp_path / "h.db")
    HistoryStore(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, app, 10)) for app in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    with HistoryStore(path) as store:
        sessions = store.sessions()
        assert sorted(s.app for s in sessions) == ["a"] * 10 + ["b"] * 10
        assert all(len(store.session(s.id).timeline) == 40 for s in sessions)
        assert not any(s.interrupted for s in sessions)


# --------------------------------------------------------------------------------------------
# summaries


def _session_with(store: HistoryStore, started: str, kcal: float, active: float) -> int:
    session = store.begin_session(
        "fitness", profile=None, started_at=dt.datetime.fromisoformat(started)
    )
    store.end_session(
        session,
        stream_seconds=600.0,
        total_kcal=kcal,
        time_per_class={"Squats": active},
        reps={"squats": 10},
        gestures=None,
        active_seconds=active,
        interrupted=False,
    )
    return session


def test_totals_by_day_and_by_week(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.db") as store:
        # Noon UTC stays on the same date in every time zone within 11 hours of UTC.
        _session_with(store, "2026-11-02T12:00:00+00:00", 100.0, 300.0)  # a Monday
        _session_with(store, "2026-11-02T12:30:00+00:00", 50.0, 60.0)
        _session_with(store, "2026-11-08T12:00:00+00:00", 20.0, 30.0)  # the Sunday after
        _session_with(store, "2026-11-09T12:00:00+00:00", 10.0, 0.0)  # next Monday
        sessions = store.sessions()
    days = daily_totals(sessions)
    assert [d.isoformat() for d in days] == ["2026-11-02", "2026-11-08", "2026-11-09"]
    first = days[next(iter(days))]
    assert (first.sessions, first.kcal, first.active_seconds) == (2, 150.0, 360.0)
    assert first.reps["squats"] == 20
    weeks = weekly_totals(sessions)
    assert [w.isoformat() for w in weeks] == ["2026-11-02", "2026-11-09"]
    assert [w.kcal for w in weeks.values()] == [170.0, 10.0]


def test_segments_merge_steps_with_one_top_class() -> None:
    rows = [
        TimelineRow(0, 0.25, "Squats", met=5.0, kcal=0.1),
        TimelineRow(1, 0.50, "Squats", met=7.0, kcal=0.2),
        TimelineRow(2, 0.75, "Pushups", met=4.0, kcal=0.4),
    ]
    first, second = segments(rows)
    assert (first.label, first.start, first.end, first.met) == ("Squats", 0.0, 0.5, 6.0)
    assert first.kcal == pytest.approx(0.2) and second.kcal == pytest.approx(0.2)
    assert (second.start, second.end) == (0.5, 0.75)


# --------------------------------------------------------------------------------------------
# real runs and the commands


def _fitness(reference_dir: Path, weights: Path, db: Path, *extra: str) -> tuple[int, str, str]:
    result = run_rtnet(
        "fitness",
        "--path-in",
        str(reference_dir / "video.mkv"),
        "--weights-dir",
        str(weights),
        "--no-window",
        "--history-db",
        str(db),
        *extra,
    )
    return result.returncode, result.stdout, result.stderr


@pytest.mark.slow  # a whole app run
def test_a_run_is_kept_with_its_timeline(
    reference_dir: Path, standin_weights_dir: Path, tmp_path: Path
) -> None:
    db, jsonl = tmp_path / "h.db", tmp_path / "out.jsonl"
    code, _, err = _fitness(reference_dir, standin_weights_dir, db, "--jsonl", str(jsonl))
    assert code == 0, err
    assert "session 1 saved in" in err and "rtnet report 1" in err  # the summary says where
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    with HistoryStore(db) as store:
        session = store.session(1)
    assert session.app == "fitness" and not session.interrupted
    assert "efficientnet" in session.model or "mobilenet" in session.model
    assert session.profile["weight"] == 70.0
    assert len(session.timeline) == len(records)
    assert [r.top for r in session.timeline] == [r["top"]["label"] for r in records]
    assert session.total_kcal == pytest.approx(records[-1]["calories"])
    assert session.stream_seconds == pytest.approx(records[-1]["time"])

    # The commands read it back.
    listing = run_rtnet("history", "--history-db", str(db), "--json")
    assert listing.returncode == 0, listing.stderr
    assert [s["id"] for s in json.loads(listing.stdout)] == [1]
    table = run_rtnet("history", "--history-db", str(db))
    assert "fitness" in table.stdout and "by week" in table.stdout
    show = run_rtnet("history", "show", "1", "--history-db", str(db))
    assert show.returncode == 0 and "timeline" in show.stdout
    exported = run_rtnet("history", "export", "--csv", "--history-db", str(db))
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 1 and float(rows[0]["total_kcal"]) == pytest.approx(session.total_kcal)
    lines = run_rtnet(
        "history", "export", "--jsonl", "--timeline", "--history-db", str(db)
    ).stdout.splitlines()
    assert len(json.loads(lines[0])["timeline"]) == len(records)


@pytest.mark.slow  # a whole app run
def test_no_history_writes_nothing(
    reference_dir: Path, standin_weights_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "h.db"
    code, _, err = _fitness(reference_dir, standin_weights_dir, db, "--quiet", "--no-history")
    assert code == 0, err
    assert not db.exists()


@pytest.mark.slow  # a whole app run
def test_a_corrupt_database_stops_the_run_before_it_starts(
    reference_dir: Path, standin_weights_dir: Path, tmp_path: Path
) -> None:
    db, jsonl = tmp_path / "h.db", tmp_path / "out.jsonl"
    db.write_bytes(b"garbage" * 1000)
    code, out, err = _fitness(reference_dir, standin_weights_dir, db, "--jsonl", str(jsonl))
    assert code == 2 and err.startswith("rtnet: error: history database") and out == ""
    assert len(err.splitlines()) == 1 and "--no-history" in err


@pytest.mark.slow  # a whole app run
def test_an_interrupted_run_is_kept_and_marked(standin_weights_dir: Path, tmp_path: Path) -> None:
    # A long file and a signal once a few steps are out: deterministic on a loaded machine.
    jsonl = tmp_path / "out.jsonl"
    video = write_long_video(tmp_path / "long.mkv")
    process = start_gestures(video, standin_weights_dir, jsonl, None)
    wait_for_lines(jsonl, 2, process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    records = jsonl.read_text().splitlines()
    with HistoryStore(tmp_path / "history.sqlite3") as store:  # where start_gestures puts it
        session = store.session(1)
    assert session.interrupted and session.ended_at is not None
    assert len(session.timeline) == len(records)


def test_delete_asks_unless_yes(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    with HistoryStore(db) as store:
        _session_with(store, "2026-11-02T12:00:00+00:00", 1.0, 1.0)
        _session_with(store, "2026-11-03T12:00:00+00:00", 1.0, 1.0)
    refused = run_rtnet("history", "delete", "1", "--history-db", str(db))
    assert refused.returncode == 2 and "--yes" in refused.stderr  # stdin is not a terminal
    missing = run_rtnet("history", "delete", "7", "--yes", "--history-db", str(db))
    assert missing.returncode == 2 and "no session 7" in missing.stderr
    done = run_rtnet("history", "delete", "1", "--yes", "--history-db", str(db))
    assert done.returncode == 0, done.stderr
    with HistoryStore(db) as store:
        assert [s.id for s in store.sessions()] == [2]
    run_rtnet("history", "delete", "--all", "--yes", "--history-db", str(db))
    with HistoryStore(db) as store:
        assert store.sessions() == []


def test_history_filters_and_bad_dates(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    with HistoryStore(db) as store:
        _session_with(store, "2026-11-02T12:00:00+00:00", 1.0, 1.0)
        _session_with(store, "2026-11-20T12:00:00+00:00", 1.0, 1.0)
    later = run_rtnet("history", "--since", "2026-11-10", "--json", "--history-db", str(db))
    assert [s["id"] for s in json.loads(later.stdout)] == [2]
    other_app = run_rtnet("history", "--app", "gestures", "--json", "--history-db", str(db))
    assert json.loads(other_app.stdout) == []
    bad = run_rtnet("history", "--since", "last tuesday", "--history-db", str(db))
    assert bad.returncode == 2 and "is not a date" in bad.stderr
    assert len(bad.stderr.splitlines()) == 1


# --------------------------------------------------------------------------------------------
# failures elsewhere in the run


class _FailingVideo(Sink):
    """A video output whose disk fills up after ``frames`` frames."""

    wants_frames = True

    def __init__(self, frames: int) -> None:
        self.frames = frames

    def on_frame(self, frame: np.ndarray, stats: RunStats) -> None:
        self.frames -= 1
        if self.frames < 0:
            raise ConfigError("cannot write video out.mp4: No space left on device")


def _engine_run(path: Path, network: ScriptedNetwork, *extra: Sink) -> BaseException:
    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(64)]
    sink = HistorySink(HistoryStore(path), app="gestures", model="scripted", profile=None)
    engine = Engine(
        ListSource(frames), network, App(GESTURES, load_labels()), [*extra, sink], title="t"
    )
    with pytest.raises(Exception) as failure:
        engine.run()
    return failure.value


def test_a_network_crash_keeps_the_session_as_interrupted(tmp_path: Path) -> None:
    error = _engine_run(tmp_path / "h.db", ScriptedNetwork(fail_at=5))
    assert "network exploded" in str(error)
    with HistoryStore(tmp_path / "h.db") as store:
        session = store.session(1)
    assert session.interrupted and session.ended_at is not None
    assert [row.step for row in session.timeline] == [0, 1, 2, 3, 4]


def test_a_failing_video_output_keeps_the_session_as_interrupted(tmp_path: Path) -> None:
    error = _engine_run(tmp_path / "h.db", ScriptedNetwork(), _FailingVideo(frames=20))
    assert "No space left" in str(error)
    with HistoryStore(tmp_path / "h.db") as store:
        session = store.session(1)
    assert session.interrupted
    assert 1 <= len(session.timeline) <= 6  # what was processed before the disk filled
