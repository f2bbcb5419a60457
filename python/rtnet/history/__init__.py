"""Workout history: every run kept in SQLite, listed by ``rtnet history``, plotted by
``rtnet report``."""

from rtnet.history.store import (
    SCHEMA_VERSION,
    HistoryError,
    HistoryStore,
    Session,
    TimelineRow,
    default_history_path,
)

__all__ = [
    "SCHEMA_VERSION",
    "HistoryError",
    "HistoryStore",
    "Session",
    "TimelineRow",
    "default_history_path",
]
