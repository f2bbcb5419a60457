"""The rich terminal UI: a live panel while running, a progress bar for files, a summary."""

from __future__ import annotations

import logging

from rich.bar import Bar
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from rtnet.apps import StepResult, Summary
from rtnet.sinks.base import RunStats, Sink

log = logging.getLogger("rtnet")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}:{secs:05.2f}"


class TerminalSink(Sink):
    """Shows results as they come; on a non-interactive stream only events and the summary."""

    def __init__(self, title: str, console: Console, model: str | None = None) -> None:
        self.title = title
        self.console = console
        # Which model runs and why ("model: pose (built-in) - SenseKit weights not found, ..."):
        # under the live panel and in the summary, where a user looks when results surprise.
        self.model = model
        self._live: Live | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last: StepResult | None = None
        self._stats: RunStats | None = None

    def start(self, stats: RunStats) -> None:
        self._stats = stats
        if not self.console.is_terminal:
            return
        if stats.total_ticks:
            self._progress = Progress(
                TextColumn("frames"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._task = self._progress.add_task("frames", total=stats.total_ticks)
        # get_renderable: the panel is rebuilt on each refresh, not on each step.
        self._live = Live(
            console=self.console,
            get_renderable=self._render,
            refresh_per_second=4,
            redirect_stderr=False,
        )
        self._live.start()

    def on_step(self, result: StepResult, stats: RunStats) -> None:
        self._last, self._stats = result, stats
        if result.fired is not None:
            log.info("gesture fired at %s: %s", _clock(result.time), result.fired)
        self._show_progress(stats)

    def _show_progress(self, stats: RunStats) -> None:
        if self._progress is None or self._task is None:
            return
        # The total comes from the container's header; a file holding more frames than it says
        # raises it rather than showing 85/84.
        total = max(stats.total_ticks or 0, stats.ticks)
        self._progress.update(self._task, completed=stats.ticks, total=total)

    def _render(self) -> RenderableType:
        result, stats = self._last, self._stats
        rows: list[RenderableType] = []
        if result is not None:
            if result.ranking:
                table = Table.grid(padding=(0, 1))
                table.add_column(min_width=28, no_wrap=True)
                table.add_column(width=30)
                table.add_column(justify="right", width=5)
                for label, prob in result.ranking:
                    shown = result.shown is not None and result.shown[0] == label
                    style = "bold green" if shown else ""
                    table.add_row(
                        f"[{style}]{label}[/]" if style else label,
                        Bar(size=1.0, begin=0.0, end=prob, color="green"),
                        f"{prob:.0%}",
                    )
                rows.append(table)
            if not result.ranking and result.headline:
                rows.append(result.headline)
            rows.extend(result.lines)
            if result.banner:
                rows.append(f"[bold yellow]gesture: {result.banner}[/]")
            rows.append(f"[dim]stream {_clock(result.time)}[/]")
        else:
            rows.append("[dim]waiting for the first clip...[/]")
        if stats is not None:
            rows.append(f"[dim]{stats.status_line()}[/]")
        panel = Panel(
            Group(*rows),
            title=self.title,
            subtitle=f"[dim]{self.model}[/]" if self.model else None,
            subtitle_align="left",
            border_style="blue",
        )
        return Group(panel, self._progress) if self._progress is not None else panel

    def close(self, summary: Summary, stats: RunStats) -> None:
        self._show_progress(stats)
        if self._live is not None:
            self._live.stop()
            self._live = None
        self.console.print(summary_table(summary, stats, self.title, self.model))


def summary_table(summary: Summary, stats: RunStats, title: str, model: str | None = None) -> Table:
    table = Table(
        title=f"{title}: summary" + (" (interrupted)" if stats.interrupted else ""),
        show_header=False,
        title_justify="left",
    )
    table.add_column(style="bold")
    table.add_column()
    table.add_row("source", stats.source)
    if model:
        table.add_row("model", model.removeprefix("model: "))
    table.add_row("duration", f"{_clock(summary.duration)} of video in {_clock(stats.wall_s)}")
    table.add_row("frames", f"{stats.ticks} at 16 fps, {stats.steps} model steps")
    if stats.live:
        table.add_row("dropped clips", str(stats.dropped_clips))
    _add_time_per_class(table, summary)
    if summary.calories is not None:
        table.add_row("calories", f"{summary.calories:.2f} kcal")
    if summary.counts is not None:
        for name, count in summary.counts.items():
            table.add_row(name.replace("_", " "), str(count))
    if summary.fired is not None:
        fired = ", ".join(f"{label} ({_clock(t)})" for t, label in summary.fired) or "none"
        table.add_row("gestures fired", fired)
    return table


TIME_PER_CLASS_ROWS = 8  # the rest are summed in one row: the totals still add up to the JSONL's


def _add_time_per_class(table: Table, summary: Summary) -> None:
    """Time per class as the JSONL counts it (steps with that `top`), with the displayed part."""
    if not summary.time_per_class:
        return
    ranked = sorted(summary.time_per_class.items(), key=lambda item: -item[1])
    rows = ranked if len(ranked) <= TIME_PER_CLASS_ROWS else ranked[: TIME_PER_CLASS_ROWS - 1]
    threshold = summary.display_threshold

    def value(seconds: float, shown: float) -> str:
        return _clock(seconds) + (f"  ({_clock(shown)} shown)" if threshold is not None else "")

    for label, seconds in rows:
        table.add_row(label, value(seconds, summary.time_shown.get(label, 0.0)))
    rest = ranked[len(rows) :]
    if rest:
        shown = sum(summary.time_shown.get(label, 0.0) for label, _ in rest)
        table.add_row(f"{len(rest)} other classes", value(sum(s for _, s in rest), shown))
    caption = "time per class: steps with it as JSONL `top`"
    if threshold is not None:
        caption += f"; shown: with a smoothed probability >= {threshold:g} (display threshold)"
    table.caption = caption
    table.caption_justify = "left"
