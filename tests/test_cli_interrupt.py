"""Ctrl-C (SIGINT) on a running `rtnet` leaves complete outputs: whole JSONL lines, a playable
video, the summary printed."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from engine_helpers import read_video, start_paced_gestures, wait_for_lines


def test_sigint_leaves_complete_outputs(
    reference_dir: Path, standin_weights_dir: Path, tmp_path: Path
) -> None:
    jsonl, video = tmp_path / "out.jsonl", tmp_path / "out.mp4"
    # --realtime paces the 4 s file, so the run is still going when the signal comes.
    process = start_paced_gestures(reference_dir / "video.mkv", standin_weights_dir, jsonl, video)
    wait_for_lines(jsonl, 3, process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "summary (interrupted)" in err
    text = jsonl.read_text()
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert 3 <= len(records) < 16
    assert [r["step"] for r in records] == sorted({r["step"] for r in records})
    # The mp4 was finalised (its index written): it opens and plays to the end.
    frames = read_video(video)
    assert 8 <= len(frames) < 64
