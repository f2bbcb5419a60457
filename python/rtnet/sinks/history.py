"""Keeps the run in the workout history: the session row at start, the timeline in batches."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rtnet.apps import StepResult, Summary
from rtnet.history.store import HistoryError, HistoryStore, TimelineRow
from rtnet.history.summary import is_active
from rtnet.sinks.base import RunStats, Sink

log = logging.getLogger("rtnet")

# A batch is one transaction (one fsync): at 4 steps a second this is a commit every 2 s, so the
# database costs the run nothing, and a crash loses at most the last 2 s of timeline.
FLUSH_EVERY_S = 2.0


def timeline_row(result: StepResult) -> TimelineRow:
    """What the history keeps of one step: the fields its JSONL record carries."""
    record = result.record
    top = record.get("top")
    counts = record.get("counts")
    return TimelineRow(
        step=result.step,
        time=result.time,
        top=top["label"] if isinstance(top, Mapping) else None,
        met=record.get("met"),
        met_corrected=record.get("met_corrected"),
        kcal=result.calories,
        counts=dict(counts) if isinstance(counts, Mapping) else None,
        fired=result.fired,
    )


class HistorySink(Sink):
    """Writes one session to ``store``. The database is opened (and checked) before the run
    starts; a write failing during the run stops history writing, not the run, and is reported
    when the run ends (after every other output is finalised)."""

    def __init__(
        self,
        store: HistoryStore,
        *,
        app: str,
        model: str,
        profile: Mapping[str, Any] | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.app = app
        self.model = model
        self.profile = profile
        self.session_id: int | None = None
        self._pending: list[TimelineRow] = []
        self._last_flush = 0.0
        self._clock = clock
        self._error: HistoryError | None = None
        self._stream_seconds = 0.0
        self._active_seconds = 0.0
        self._kcal: float | None = None

    @property
    def path(self) -> Path:
        return self.store.path

    def start(self, stats: RunStats) -> None:
        self.session_id = self.store.begin_session(
            self.app, model=self.model, source=stats.source, profile=self.profile
        )
        self._last_flush = self._clock()

    def on_step(self, result: StepResult, stats: RunStats) -> None:
        if self._error is not None or self.session_id is None:
            return
        row = timeline_row(result)
        self._pending.append(row)
        if is_active(row):
            self._active_seconds += result.time - self._stream_seconds
        self._stream_seconds = result.time
        if result.calories is not None:
            self._kcal = result.calories
        if self._clock() - self._last_flush >= FLUSH_EVERY_S:
            self._flush()

    def _flush(self) -> None:
        self._last_flush = self._clock()
        if not self._pending or self.session_id is None or self._error is not None:
            return
        try:
            self.store.append(
                self.session_id,
                self._pending,
                stream_seconds=self._stream_seconds,
                total_kcal=self._kcal,
                active_seconds=self._active_seconds,
            )
            self._pending.clear()
        except HistoryError as exc:
            self._error = exc
            log.warning("history: %s (the run goes on without it)", exc)

    def close(self, summary: Summary, stats: RunStats) -> None:
        try:
            if self.session_id is not None and self._error is None:
                self._flush()
                if self._error is None:
                    try:
                        self.store.end_session(
                            self.session_id,
                            stream_seconds=summary.duration,
                            total_kcal=summary.calories,
                            time_per_class=summary.time_per_class,
                            reps=summary.counts,
                            gestures=summary.fired,
                            active_seconds=self._active_seconds,
                            interrupted=stats.interrupted,
                        )
                    except HistoryError as exc:
                        self._error = exc
        finally:
            self.store.close()
        if self._error is not None:
            raise self._error
