"""What sessions add up to: active time, exercise segments, totals by day and by week."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rtnet.history.store import Session, TimelineRow

# The fitness and gesture label sets' classes that are not an activity.
IDLE_CLASSES = frozenset({"Doing nothing", "No person visible"})
# "Active" as fitness guidelines count it: moderate intensity or more (the Compendium's 3 MET).
ACTIVE_MET = 3.0


def is_active(row: TimelineRow) -> bool:
    """A step counts as active at >= 3 MET; without a MET estimate, when its top class is an
    activity (not an idle class)."""
    if row.met is not None:
        return row.met >= ACTIVE_MET
    return row.top is not None and row.top not in IDLE_CLASSES


def clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class Segment:
    """A stretch of the timeline with one top class."""

    label: str
    start: float
    end: float
    met: float | None  # mean MET over the stretch, where known
    kcal: float  # calories burnt during it

    @property
    def seconds(self) -> float:
        return self.end - self.start


def segments(timeline: Sequence[TimelineRow]) -> list[Segment]:
    """Consecutive steps with the same top class, merged (each step ends at its ``time``)."""
    out: list[Segment] = []
    start, previous_kcal = 0.0, 0.0
    group: list[TimelineRow] = []

    def close() -> None:
        mets = [r.met for r in group if r.met is not None]
        kcal = group[-1].kcal if group[-1].kcal is not None else previous_kcal
        out.append(
            Segment(
                label=group[0].top or "-",
                start=start,
                end=group[-1].time,
                met=sum(mets) / len(mets) if mets else None,
                kcal=kcal - previous_kcal,
            )
        )

    for row in timeline:
        if group and row.top != group[0].top:
            close()
            start = group[-1].time
            previous_kcal = group[-1].kcal if group[-1].kcal is not None else previous_kcal
            group = []
        group.append(row)
    if group:
        close()
    return out


@dataclass
class Totals:
    sessions: int = 0
    kcal: float = 0.0
    active_seconds: float = 0.0
    reps: Counter[str] = field(default_factory=Counter)

    def add(self, session: Session) -> None:
        self.sessions += 1
        self.kcal += session.total_kcal or 0.0
        self.active_seconds += session.active_seconds
        self.reps.update(session.reps)


def _local_date(session: Session) -> dt.date:
    return session.started.astimezone().date()


def _totals(sessions: Iterable[Session], key: object) -> dict[dt.date, Totals]:
    totals: dict[dt.date, Totals] = {}
    for session in sessions:
        day = _local_date(session)
        bucket = day - dt.timedelta(days=day.weekday()) if key == "week" else day
        totals.setdefault(bucket, Totals()).add(session)
    return dict(sorted(totals.items()))


def daily_totals(sessions: Iterable[Session]) -> dict[dt.date, Totals]:
    """Totals per local calendar day."""
    return _totals(sessions, "day")


def weekly_totals(sessions: Iterable[Session]) -> dict[dt.date, Totals]:
    """Totals per week, keyed by the week's Monday (ISO weeks)."""
    return _totals(sessions, "week")
