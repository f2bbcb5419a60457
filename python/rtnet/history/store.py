"""The workout history: one SQLite database, one row per run and its per-step timeline.

SQLite (stdlib), so there is nothing to set up. WAL mode lets ``rtnet history`` read while a run
writes, and lets two runs write the same file; ``busy_timeout`` makes a writer wait its turn
instead of failing. The schema version is ``PRAGMA user_version``; ``MIGRATIONS[v]`` takes a
database from version ``v`` to ``v + 1``, so a file written by any earlier rtnet opens.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from rtnet.errors import ConfigError

ENV_VAR = "RTNET_HISTORY"
FILE_NAME = "history.sqlite3"
BUSY_TIMEOUT_MS = 5000  # another run committing its batch holds the lock for milliseconds

# Each entry moves the schema one version up; never edit an entry that has shipped, add one.
MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: sessions and their timelines.
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        app TEXT NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        profile TEXT NOT NULL DEFAULT '{}',      -- JSON: weight, height, age, gender
        started_at TEXT NOT NULL,                -- ISO 8601, UTC
        ended_at TEXT,                           -- NULL while running or if the process died
        stream_seconds REAL NOT NULL DEFAULT 0,
        total_kcal REAL,
        time_per_class TEXT NOT NULL DEFAULT '{}',  -- JSON: label -> seconds
        reps TEXT NOT NULL DEFAULT '{}',            -- JSON: exercise -> count
        gestures TEXT NOT NULL DEFAULT '[]',        -- JSON: [[time, label], ...]
        interrupted INTEGER NOT NULL DEFAULT 1      -- 0 only once the run ended by itself
    );
    CREATE TABLE timeline (
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        time REAL NOT NULL,
        top TEXT,
        met REAL,
        met_corrected REAL,
        kcal REAL,
        counts TEXT,                             -- JSON: exercise -> count so far
        PRIMARY KEY (session_id, step)
    );
    """,
    # 1 -> 2: the gesture timeline needs the step a gesture fired at; daily and weekly totals
    # need active time without reading every timeline (backfilled from the timelines here, with
    # version 1's fixed 0.25 s step); listing by date needs an index once months are stored.
    """
    ALTER TABLE timeline ADD COLUMN fired TEXT;
    ALTER TABLE sessions ADD COLUMN active_seconds REAL NOT NULL DEFAULT 0;
    UPDATE sessions SET active_seconds = 0.25 * (
        SELECT COUNT(*) FROM timeline AS t WHERE t.session_id = sessions.id AND (
            t.met >= 3.0 OR (
                t.met IS NULL AND t.top IS NOT NULL
                AND t.top NOT IN ('Doing nothing', 'No person visible')
            )
        )
    );
    CREATE INDEX sessions_started_at ON sessions(started_at);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def default_history_path() -> Path:
    """``$RTNET_HISTORY``, else the user data dir (beside the installed weights)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return platformdirs.user_data_path("rtnet") / FILE_NAME


class HistoryError(ConfigError):
    """The history database cannot be used (corrupt, locked, newer, not writable)."""


def _iso(moment: dt.datetime) -> str:
    """UTC ISO 8601, to the second: sorts as text in the order of time."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _now() -> str:
    return _iso(dt.datetime.now(dt.timezone.utc))


@dataclass
class TimelineRow:
    step: int
    time: float
    top: str | None = None
    met: float | None = None
    met_corrected: float | None = None
    kcal: float | None = None
    counts: Mapping[str, int] | None = None
    fired: str | None = None


@dataclass
class Session:
    """One run as stored."""

    id: int
    app: str
    model: str
    source: str
    profile: dict[str, Any]
    started_at: str
    ended_at: str | None
    stream_seconds: float
    total_kcal: float | None
    time_per_class: dict[str, float]
    reps: dict[str, int]
    gestures: list[tuple[float, str]]
    interrupted: bool
    active_seconds: float = 0.0
    timeline: list[TimelineRow] = field(default_factory=list)

    @property
    def started(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.started_at)

    def as_dict(self, timeline: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "app": self.app,
            "model": self.model,
            "source": self.source,
            "profile": self.profile,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "stream_seconds": self.stream_seconds,
            "total_kcal": self.total_kcal,
            "time_per_class": self.time_per_class,
            "reps": self.reps,
            "gestures": [list(g) for g in self.gestures],
            "interrupted": self.interrupted,
            "active_seconds": self.active_seconds,
        }
        if timeline:
            data["timeline"] = [row.__dict__ | {"counts": row.counts} for row in self.timeline]
        return data


def _session(row: sqlite3.Row) -> Session:
    return Session(
        id=row["id"],
        app=row["app"],
        model=row["model"],
        source=row["source"],
        profile=json.loads(row["profile"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        stream_seconds=row["stream_seconds"],
        total_kcal=row["total_kcal"],
        time_per_class=json.loads(row["time_per_class"]),
        reps=json.loads(row["reps"]),
        gestures=[(float(t), str(label)) for t, label in json.loads(row["gestures"])],
        interrupted=bool(row["interrupted"]),
        active_seconds=row["active_seconds"],
    )


def _finite(value: float | None) -> float | None:
    # SQLite stores NaN as NULL anyway; say so explicitly so JSON exports stay valid.
    return value if value is not None and math.isfinite(value) else None


class HistoryStore:
    """An open history database. All methods raise ``HistoryError`` with one clear line."""

    def __init__(
        self, path: str | Path, *, create: bool = True, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise HistoryError(f"no history at {self.path}: run an app first (or --history-db)")
        if self.path.is_dir():
            raise HistoryError(f"history database {self.path} is a directory")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are explicit (see _transaction).
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout_ms / 1000, isolation_level=None
            )
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"cannot open history database {self.path}: {exc}") from None
        self._db.row_factory = sqlite3.Row
        with self._errors("open"):
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._migrate()

    # -- plumbing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise HistoryError(self._describe(exc, action)) from None

    @contextlib.contextmanager
    def _transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock up front, so a second writer
        waits (busy_timeout) instead of failing half-way."""
        with self._errors(action):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _describe(self, exc: sqlite3.Error, action: str) -> str:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return (
                f"history database {self.path} is corrupt ({text}): move it away to start a new "
                "one, or use --no-history"
            )
        if "locked" in text or "busy" in text:
            return (
                f"history database {self.path} is locked by another program ({text}); "
                "try again, or use --no-history"
            )
        return f"history database {self.path}: cannot {action}: {text}"

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"history database {self.path} has schema version {version}, newer than this "
                f"rtnet understands ({SCHEMA_VERSION}): upgrade rtnet"
            )
        for target in range(version, SCHEMA_VERSION):
            # One transaction per step: a failed migration leaves the previous version intact.
            with self._transaction("migrate") as db:
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {target + 1}")

    @property
    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------

    def begin_session(
        self,
        app: str,
        *,
        model: str = "",
        source: str = "",
        profile: Mapping[str, Any] | None,
        started_at: dt.datetime | None = None,
    ) -> int:
        """A new session row, committed at once: a run that dies still shows up (interrupted).
        ``started_at`` (default: now) lets an import or a demo place a session in the past."""
        started = _now() if started_at is None else _iso(started_at)
        with self._transaction("start a session") as db:
            cursor = db.execute(
                "INSERT INTO sessions (app, model, source, profile, started_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (app, model, source, json.dumps(dict(profile or {})), started),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def append(
        self,
        session_id: int,
        rows: Sequence[TimelineRow],
        *,
        stream_seconds: float,
        total_kcal: float | None,
        active_seconds: float,
    ) -> None:
        """Timeline rows and the running totals, in one transaction (one fsync per batch)."""
        with self._transaction("write the timeline") as db:
            db.executemany(
                "INSERT OR REPLACE INTO timeline "
                "(session_id, step, time, top, met, met_corrected, kcal, counts, fired) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        session_id,
                        row.step,
                        row.time,
                        row.top,
                        _finite(row.met),
                        _finite(row.met_corrected),
                        _finite(row.kcal),
                        None if row.counts is None else json.dumps(dict(row.counts)),
                        row.fired,
                    )
                    for row in rows
                ],
            )
            db.execute(
                "UPDATE sessions SET stream_seconds = ?, total_kcal = ?, active_seconds = ? "
                "WHERE id = ?",
                (stream_seconds, _finite(total_kcal), active_seconds, session_id),
            )

    def end_session(
        self,
        session_id: int,
        *,
        stream_seconds: float,
        total_kcal: float | None,
        time_per_class: Mapping[str, float],
        reps: Mapping[str, int] | None,
        gestures: Sequence[tuple[float, str]] | None,
        active_seconds: float,
        interrupted: bool,
    ) -> None:
        with self._transaction("finish the session") as db:
            db.execute(
                "UPDATE sessions SET ended_at = ?, stream_seconds = ?, total_kcal = ?, "
                "time_per_class = ?, reps = ?, gestures = ?, active_seconds = ?, interrupted = ? "
                "WHERE id = ?",
                (
                    _now(),
                    stream_seconds,
                    _finite(total_kcal),
                    json.dumps(dict(time_per_class)),
                    json.dumps(dict(reps or {})),
                    json.dumps([list(g) for g in gestures or ()]),
                    active_seconds,
                    int(interrupted),
                    session_id,
                ),
            )

    def delete(self, session_id: int | None = None) -> int:
        """Delete one session (or all with None), timelines included; returns how many."""
        with self._transaction("delete") as db:
            if session_id is None:
                cursor = db.execute("DELETE FROM sessions")
            else:
                cursor = db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return cursor.rowcount

    # -- reading ----------------------------------------------------------------------------

    def sessions(
        self, *, since: dt.datetime | None = None, app: str | None = None
    ) -> list[Session]:
        query, params = "SELECT * FROM sessions WHERE 1=1", []
        if since is not None:
            query += " AND started_at >= ?"
            params.append(_iso(since))
        if app is not None:
            query += " AND app = ?"
            params.append(app)
        with self._errors("read sessions"):
            rows = self._db.execute(query + " ORDER BY started_at, id", params).fetchall()
        return [_session(row) for row in rows]

    def session(self, session_id: int, *, timeline: bool = True) -> Session:
        with self._errors("read the session"):
            row = self._db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                raise HistoryError(f"no session {session_id} in {self.path} (see rtnet history)")
            session = _session(row)
            if timeline:
                session.timeline = list(self._timeline(session_id))
        return session

    def last_session_id(self) -> int:
        with self._errors("read sessions"):
            row = self._db.execute(
                "SELECT id FROM sessions ORDER BY started_at DESC, id DESC LIMIT 1"
            ).fetchone()
        if row is None:
            raise HistoryError(f"no sessions in {self.path} yet: run an app first")
        return int(row["id"])

    def _timeline(self, session_id: int) -> Iterator[TimelineRow]:
        for row in self._db.execute(
            "SELECT * FROM timeline WHERE session_id = ? ORDER BY step", (session_id,)
        ):
            yield TimelineRow(
                step=row["step"],
                time=row["time"],
                top=row["top"],
                met=row["met"],
                met_corrected=row["met_corrected"],
                kcal=row["kcal"],
                counts=None if row["counts"] is None else json.loads(row["counts"]),
                fired=row["fired"],
            )
