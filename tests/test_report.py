"""`rtnet report`: a self-contained HTML page with its plots, checked in a real headless browser."""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from engine_helpers import run_rtnet
from rtnet.history import HistoryStore, TimelineRow
from rtnet.history.report import render_html, session_plots

pytestmark = pytest.mark.slow  # app runs and a headless browser

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _workout(store: HistoryStore, started: str) -> int:
    """A 3-minute session: squats, a rest, jumping jacks."""
    session = store.begin_session(
        "fitness",
        model="pose (built-in)",
        profile={"weight": 65},
        started_at=dt.datetime.fromisoformat(started),
    )
    rows, kcal = [], 0.0
    for step in range(720):
        t = 0.25 * (step + 1)
        top, met = (
            ("Squats", 5.0)
            if t < 60
            else ("Doing nothing", 1.3)
            if t < 90
            else ("Jumping Jacks", 8.0)
        )
        kcal += met * 65 * 0.25 / 3600
        reps = {"squats": int(min(t, 60) // 3), "jumping_jacks": int(max(t - 90, 0) // 1.5)}
        rows.append(TimelineRow(step, t, top, met, met * 1.05, kcal, reps))
    store.append(session, rows, stream_seconds=180.0, total_kcal=kcal, active_seconds=150.0)
    store.end_session(
        session,
        stream_seconds=180.0,
        total_kcal=kcal,
        time_per_class={"Squats": 60.0, "Doing nothing": 30.0, "Jumping Jacks": 90.0},
        reps=rows[-1].counts,
        gestures=None,
        active_seconds=150.0,
        interrupted=False,
    )
    return session


def _gesture_session(store: HistoryStore) -> int:
    session = store.begin_session("gestures", profile=None)
    store.end_session(
        session,
        stream_seconds=30.0,
        total_kcal=None,
        time_per_class={},
        reps=None,
        gestures=[(2.0, "Thumb up"), (9.5, "Swiping left"), (20.25, "Thumb up")],
        active_seconds=0.0,
        interrupted=True,
    )
    return session


def test_plots_follow_what_the_session_holds(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "h.db") as store:
        workout = store.session(_workout(store, "2026-11-02T18:00:00+00:00"))
        gestures = store.session(_gesture_session(store))
        history = store.sessions()
    assert [p.name for p in session_plots(workout, history)] == ["met", "kcal", "reps", "weekly"]
    assert [p.name for p in session_plots(gestures, history)] == ["gestures", "weekly"]
    for plot in session_plots(workout, history):
        assert plot.png.startswith(PNG_MAGIC)
    page = render_html(workout, session_plots(workout, history))
    # Self-contained: every image is inline, nothing is fetched.
    assert "http://" not in page and "https://" not in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 4
    assert all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)


def test_report_command_and_png_option(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    with HistoryStore(db) as store:
        _workout(store, "2026-11-02T18:00:00+00:00")
        last = _gesture_session(store)
    out = tmp_path / "r.html"
    result = run_rtnet("report", "--history-db", str(db), "--out", str(out), "--png")
    assert result.returncode == 0, result.stderr
    assert f"session {last}" in out.read_text()  # --last is the default
    assert (tmp_path / "r-gestures.png").read_bytes().startswith(PNG_MAGIC)
    missing = run_rtnet("report", "9", "--history-db", str(db), "--out", str(out))
    assert missing.returncode == 2 and "no session 9" in missing.stderr
    nowhere = run_rtnet("report", "--history-db", str(db), "--out", str(tmp_path / "x" / "r.html"))
    assert nowhere.returncode == 2 and len(nowhere.stderr.splitlines()) == 1


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")


def _browse(page: Path, screenshot: Path) -> tuple[str, str]:
    """The page's DOM after its scripts ran, and the browser's console log."""
    browser = _chromium()
    flags = [
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1000,2200",
        "--virtual-time-budget=5000",  # let the load handler run before the DOM is dumped
    ]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    shot = subprocess.run(
        [browser, *flags, f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.returncode == 0, shot.stderr
    return dom.stdout, dom.stderr


def _console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def test_report_renders_in_a_headless_browser(tmp_path: Path) -> None:
    db, out = tmp_path / "h.db", tmp_path / "report.html"
    with HistoryStore(db) as store:
        _workout(store, "2026-11-02T18:00:00+00:00")
    assert run_rtnet("report", "--history-db", str(db), "--out", str(out)).returncode == 0
    screenshot = tmp_path / "report.png"
    dom, log = _browse(out, screenshot)
    assert 'data-plots="loaded"' in dom  # every plot decoded in the browser
    assert dom.count('id="plot-') == 4
    assert _console_errors(log) == []
    assert screenshot.read_bytes().startswith(PNG_MAGIC) and screenshot.stat().st_size > 20_000

    # The same checks catch a broken page: a bad image and a script error.
    broken = tmp_path / "broken.html"
    broken.write_text(
        out.read_text()
        .replace("data:image/png;base64,", "data:image/png;base64,AAAA", 1)
        .replace("</body>", "<script>undefinedFunction();</script></body>")
    )
    dom, log = _browse(broken, tmp_path / "broken.png")
    assert 'data-plots="broken"' in dom
    assert any("undefinedFunction" in line for line in _console_errors(log))
