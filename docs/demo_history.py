"""A demo workout history for the README's report screenshot: made-up sessions over three weeks,
written through rtnet's history API as a run would write them."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

from rtnet.history import HistoryStore, TimelineRow

WEIGHT_KG = 65.0
# (exercise, MET, seconds, seconds per rep or 0) for one session: a warm-up, two sets, a rest.
PLAN = [
    ("Jumping Jacks", 7.7, 90, 1.2),
    ("Doing nothing", 1.3, 30, 0),
    ("Squats", 5.0, 120, 3.0),
    ("Doing nothing", 1.3, 40, 0),
    ("Pushups", 3.8, 60, 2.5),
    ("Doing nothing", 1.3, 20, 0),
    ("Squats", 5.0, 90, 3.0),
]
REPS = {"Jumping Jacks": "jumping_jacks", "Squats": "squats", "Pushups": "pushups"}


def session(store: HistoryStore, started: datetime, scale: float) -> None:
    sid = store.begin_session(
        "fitness", model="pose + hands (fp32)", profile={"weight": WEIGHT_KG}, started_at=started
    )
    rows, t, kcal, step, active = [], 0.0, 0.0, 0, 0.0
    counts = dict.fromkeys(REPS.values(), 0)
    per_class: dict[str, float] = {}
    for label, met, seconds, rep_s in PLAN:
        start = t
        while t < start + seconds * scale:
            t += 0.25
            kcal += met * WEIGHT_KG * 0.25 / 3600
            active += 0.25 if met >= 3 else 0.0
            if rep_s:
                counts[REPS[label]] = counts[REPS[label]] + (
                    int((t - start) / rep_s) > int((t - 0.25 - start) / rep_s)
                )
            rows.append(TimelineRow(step, t, label, met, met * 1.04, kcal, dict(counts)))
            step += 1
        per_class[label] = per_class.get(label, 0.0) + seconds * scale
    store.append(sid, rows, stream_seconds=t, total_kcal=kcal, active_seconds=active)
    store.end_session(
        sid,
        stream_seconds=t,
        total_kcal=kcal,
        time_per_class=per_class,
        reps=counts,
        gestures=None,
        active_seconds=active,
        interrupted=False,
    )


def main(path: str) -> None:
    today = datetime.now(timezone.utc).replace(hour=18, minute=0, second=0, microsecond=0)
    with HistoryStore(path) as store:
        for days_ago, scale in (
            (20, 0.8),
            (16, 1.0),
            (13, 1.0),
            (9, 1.2),
            (6, 1.1),
            (2, 1.3),
            (0, 1.4),
        ):
            session(store, today - timedelta(days=days_ago), scale)


if __name__ == "__main__":
    main(sys.argv[1])
