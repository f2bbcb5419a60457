"""The rich terminal UI says which model runs, and why: under the live panel and in the summary."""

from __future__ import annotations

import io

from rich.console import Console

from rtnet.apps import StepResult, Summary
from rtnet.sinks.base import RunStats
from rtnet.sinks.terminal import TerminalSink

REASON = "model: pose (built-in) - SenseKit weights not found, see rtnet weights"


def _run(model: str | None) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    sink = TerminalSink("rtnet fitness", console, model=model)
    stats = RunStats(source="camera 0", live=True, camera=True)
    sink.start(stats)
    result = StepResult(step=0, time=0.25, record={}, headline="Squats  80%")
    sink.on_step(result, stats)
    summary = Summary()
    summary.add(result)
    sink.close(summary, stats)
    return out.getvalue()


def test_live_panel_and_summary_name_the_model_and_why() -> None:
    text = _run(REASON)
    panel = text[: text.index("summary")]
    assert REASON in panel  # the live panel's subtitle
    summary_rows = [line for line in text.splitlines() if line.startswith("│ model")]
    assert len(summary_rows) == 1
    assert "pose (built-in) - SenseKit weights not found" in summary_rows[0]


def test_no_model_line_when_none_is_given() -> None:
    text = _run(None)
    assert "model:" not in text and "│ model" not in text
