"""``rtnet report``: one session (and the weeks around it) as plots in one self-contained HTML file.

The figures are matplotlib PNGs embedded as data URIs, so the file opens anywhere, offline, and
can be mailed as it is. ``--png`` writes the same figures as image files.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rtnet.history.store import Session
from rtnet.history.summary import IDLE_CLASSES, clock, segments, weekly_totals

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100
WEEKS_SHOWN = 8


@dataclass(frozen=True)
class Plot:
    name: str  # file stem for --png
    title: str
    png: bytes


def _figure(width: float = 9.0, height: float = 3.2) -> Figure:
    # The object-oriented API with the Agg canvas: no global pyplot state, no display needed.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _colours(labels: Sequence[str]) -> dict[str, tuple[float, float, float, float]]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {label: palette(i % 10) for i, label in enumerate(labels)}


def _series(values: Iterable[float | None]) -> np.ndarray:
    """Missing values become NaN, where matplotlib breaks the line."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def met_plot(session: Session) -> Plot | None:
    rows = [r for r in session.timeline if r.met is not None]
    if not rows:
        return None
    figure = _figure()
    axes = figure.add_subplot()
    times = [r.time / 60 for r in rows]
    axes.plot(times, _series(r.met for r in rows), color="black", linewidth=1.2, label="MET")
    if any(r.met_corrected is not None for r in rows):
        axes.plot(
            times,
            _series(r.met_corrected for r in rows),
            color="tab:red",
            linewidth=1.0,
            label="corrected MET",
        )
    # The exercise recognised at each moment, as coloured bands behind the curve.
    spans = [s for s in segments(session.timeline) if s.label not in IDLE_CLASSES]
    colours = _colours(sorted({s.label for s in spans}))
    shown: set[str] = set()
    for span in spans:
        axes.axvspan(
            span.start / 60,
            span.end / 60,
            color=colours[span.label],
            alpha=0.3,
            linewidth=0,
            label=None if span.label in shown else span.label,
        )
        shown.add(span.label)
    axes.set_xlabel("minutes")
    axes.set_ylabel("MET")
    axes.set_ylim(bottom=0)
    figure.legend(loc="outside upper center", fontsize="small", ncols=6, frameon=False)
    return Plot("met", "MET over time, exercises shaded", _png(figure))


def kcal_plot(session: Session) -> Plot | None:
    rows = [r for r in session.timeline if r.kcal is not None]
    if not rows:
        return None
    figure = _figure(height=2.6)
    axes = figure.add_subplot()
    minutes, kcal = [r.time / 60 for r in rows], _series(r.kcal for r in rows)
    axes.plot(minutes, kcal, color="tab:orange")
    axes.fill_between(minutes, kcal, alpha=0.2)
    axes.set_xlabel("minutes")
    axes.set_ylabel("kcal")
    axes.set_ylim(bottom=0)
    return Plot("kcal", "Cumulative calories", _png(figure))


def reps_plot(session: Session) -> Plot | None:
    reps = {name.replace("_", " "): count for name, count in session.reps.items()}
    if not reps:
        return None
    figure = _figure(width=6.0, height=0.5 + 0.45 * len(reps))
    axes = figure.add_subplot()
    names = list(reps)
    axes.barh(names, [reps[n] for n in names], color="tab:green")
    for y, name in enumerate(names):
        axes.text(reps[name], y, f" {reps[name]}", va="center")
    axes.set_xlabel("reps")
    axes.invert_yaxis()
    return Plot("reps", "Reps per exercise", _png(figure))


def gestures_plot(session: Session) -> Plot | None:
    if not session.gestures:
        return None
    labels = sorted({label for _, label in session.gestures})
    figure = _figure(height=0.8 + 0.35 * len(labels))
    axes = figure.add_subplot()
    rows = {label: i for i, label in enumerate(labels)}
    axes.scatter(
        [t / 60 for t, _ in session.gestures],
        [rows[label] for _, label in session.gestures],
        marker="|",
        s=300,
        color="tab:purple",
    )
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlim(0, max(session.stream_seconds, 1.0) / 60)
    axes.set_xlabel("minutes")
    return Plot("gestures", "Gestures fired", _png(figure))


def weekly_plot(sessions: Sequence[Session], until: dt.date) -> Plot | None:
    weeks = weekly_totals(sessions)
    if not weeks:
        return None
    last = until - dt.timedelta(days=until.weekday())
    mondays = [last - dt.timedelta(weeks=i) for i in reversed(range(WEEKS_SHOWN))]
    figure = _figure(height=2.8)
    axes = figure.add_subplot()
    kcal = [weeks[m].kcal if m in weeks else 0.0 for m in mondays]
    minutes = [weeks[m].active_seconds / 60 if m in weeks else 0.0 for m in mondays]
    positions = range(len(mondays))
    axes.bar([p - 0.2 for p in positions], kcal, width=0.4, color="tab:orange", label="kcal")
    twin = axes.twinx()
    twin.bar([p + 0.2 for p in positions], minutes, width=0.4, color="tab:blue", label="minutes")
    axes.set_xticks(list(positions), [m.strftime("%d %b") for m in mondays])
    axes.set_ylabel("kcal")
    twin.set_ylabel("active minutes")
    figure.legend(loc="outside upper right", fontsize="small", ncols=2)
    return Plot("weekly", f"The last {WEEKS_SHOWN} weeks (weeks starting on Monday)", _png(figure))


def session_plots(session: Session, history: Sequence[Session]) -> list[Plot]:
    plots = [
        met_plot(session),
        kcal_plot(session),
        reps_plot(session),
        gestures_plot(session),
        weekly_plot(history, session.started.date()),
    ]
    return [plot for plot in plots if plot is not None]


def _facts(session: Session) -> list[tuple[str, str]]:
    facts = [
        ("app", session.app),
        ("model", session.model or "-"),
        ("source", session.source or "-"),
        ("started", session.started.astimezone().strftime("%Y-%m-%d %H:%M")),
        ("duration", clock(session.stream_seconds)),
        ("active", clock(session.active_seconds)),
    ]
    if session.total_kcal is not None:
        facts.append(("calories", f"{session.total_kcal:.1f} kcal"))
    for label, seconds in Counter(session.time_per_class).most_common(5):
        facts.append((label, clock(seconds)))
    if session.interrupted:
        facts.append(("ended", "interrupted"))
    return facts


# The page checks that its own images decoded and says so on <body>: the browser test reads it.
_CHECK = """
window.addEventListener('load', () => {
  const images = Array.from(document.images);
  const ok = images.length > 0 && images.every(i => i.complete && i.naturalWidth > 0);
  document.body.dataset.plots = ok ? 'loaded' : 'broken';
});
"""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 960px; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; } td { padding: 0.15rem 1rem 0.15rem 0; }
td:first-child { font-weight: 600; } img { max-width: 100%; }
footer { margin-top: 2rem; color: #888; font-size: 0.8rem; }
"""


def render_html(session: Session, plots: Sequence[Plot]) -> str:
    rows = "\n".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in _facts(session)
    )
    figures = "\n".join(
        f'<h2>{html.escape(p.title)}</h2>\n<img alt="{html.escape(p.title)}" '
        f'id="plot-{p.name}" src="data:image/png;base64,{base64.b64encode(p.png).decode()}">'
        for p in plots
    )
    title = f"rtnet {session.app} - session {session.id}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{_STYLE}</style>
<script>{_CHECK}</script>
</head>
<body>
<h1>{html.escape(title)}</h1>
<table>
{rows}
</table>
{figures}
<footer>Written by rtnet report on {dt.date.today().isoformat()}.</footer>
</body>
</html>
"""


def write_report(
    session: Session, history: Sequence[Session], out: Path, *, png: bool = False
) -> list[Path]:
    """Writes ``out`` (and with ``png`` the figures beside it); returns the files written."""
    plots = session_plots(session, history)
    written = [out]
    out.write_text(render_html(session, plots), encoding="utf-8")
    if png:
        for plot in plots:
            path = out.with_name(f"{out.stem}-{plot.name}.png")
            path.write_bytes(plot.png)
            written.append(path)
    return written
