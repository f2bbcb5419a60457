"""Ctrl-C (SIGINT), SIGTERM and SIGHUP on a running `rtnet` leave complete outputs: whole JSONL
lines, a playable video holding every frame the summary counts, the summary printed, and the
status a shell reports for the signal (128 + its number). A second signal while the outputs are
being finalised changes nothing.

Deterministic on a loaded machine: the input is far longer than the test needs and is processed
as fast as inference allows (never --realtime, which drops clips under load), and the signal is
sent once the JSONL shows the run is under way.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine_helpers import (
    LONG_VIDEO_FRAMES,
    read_video,
    rtnet_env,
    start_gestures,
    wait_for_lines,
    write_long_video,
)

pytestmark = pytest.mark.slow  # whole app runs, signalled


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_long_video(tmp_path_factory.mktemp("interrupt") / "long.mkv")


def hammer(process: subprocess.Popen[str], signum: int, seconds: float = 30) -> None:
    """Sends ``signum`` every 20 ms until ``process`` ends: signals during finalisation."""
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        process.send_signal(signum)
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("signals", "status", "suffix"),
    [
        ([signal.SIGINT], {130}, ".mp4"),
        ([signal.SIGTERM], {143}, ".mp4"),
        ([signal.SIGHUP], {129}, ".mp4"),
        # Two signals sent back to back may be handled in either order (Python runs pending
        # handlers by signal number): the status is that of whichever came first.
        ([signal.SIGINT, signal.SIGTERM, "hammer"], {130, 143}, ".mp4"),
        ([signal.SIGTERM, signal.SIGINT, "hammer"], {130, 143}, ".mkv"),
    ],
    ids=["sigint", "sigterm", "sighup", "second-signals-mp4", "second-signals-mkv"],
)
def test_signal_leaves_complete_outputs(
    long_video: Path,
    standin_weights_dir: Path,
    tmp_path: Path,
    signals: list[signal.Signals | str],
    status: set[int],
    suffix: str,
) -> None:
    jsonl, video = tmp_path / "out.jsonl", tmp_path / f"out{suffix}"
    process = start_gestures(long_video, standin_weights_dir, jsonl, video)
    wait_for_lines(jsonl, 3, process)
    for signum in signals:
        if signum == "hammer":
            hammer(process, signal.SIGINT)
        else:
            assert isinstance(signum, signal.Signals)
            process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode in status, err
    assert "Traceback" not in err and "terminate called" not in err
    assert "summary (interrupted)" in err
    text = jsonl.read_text()
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert 3 <= len(records) < LONG_VIDEO_FRAMES // 4
    assert [r["step"] for r in records] == list(range(len(records)))
    # The video was finalised (an mp4's index written) and holds every frame the summary counts.
    frames = read_video(video)
    counted = re.search(r"frames\s*│\s*(\d+) at 16 fps, (\d+) model steps", err)
    assert counted is not None, err
    assert len(frames) == int(counted[1]) >= 4 * len(records)
    assert int(counted[2]) == len(records)


def test_signal_while_the_process_exits_is_ignored(
    reference_dir: Path, standin_weights_dir: Path, tmp_path: Path
) -> None:
    """A Ctrl-C just as a run ends (here: from an atexit hook, while the interpreter shuts down)
    used to raise KeyboardInterrupt there: a traceback, and status 0."""
    script = (
        "import atexit, os, signal, sys, time\n"
        "from rtnet.cli import main\n"
        "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.2)))\n"
        "sys.argv[0] = 'rtnet'\n"
        "sys.exit(main())\n"
    )
    args = ["gestures", "--path-in", str(reference_dir / "video.mkv"), "--no-window", "--quiet"]
    args += ["--weights-dir", str(standin_weights_dir), "--jsonl", str(tmp_path / "out.jsonl")]
    env = rtnet_env()
    env["RTNET_HISTORY"] = str(tmp_path / "history.sqlite3")
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 16
