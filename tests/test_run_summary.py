"""The run summary agrees with the JSONL of the same run: a real app on the reference video."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rtnet.cli import main

pytestmark = pytest.mark.slow  # a whole app run


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}:{secs:05.2f}"


def test_summary_time_per_class_equals_the_jsonl_top_counts(
    reference_dir: Path,
    standin_weights_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one table row per line
    jsonl = tmp_path / "run.jsonl"
    code = main(
        [
            "fitness",
            "--path-in",
            str(reference_dir / "video.mkv"),
            "--no-window",
            "--jsonl",
            str(jsonl),
            "--weights-dir",
            str(standin_weights_dir),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]

    # What a reader of the JSONL counts: stream time per `top` label, and the part of it at or
    # above the display threshold.
    total: dict[str, float] = {}
    shown: dict[str, float] = {}
    previous = 0.0
    for record in records:
        label, prob = record["top"]["label"], record["top"]["prob"]
        total[label] = total.get(label, 0.0) + record["time"] - previous
        if prob >= 0.5:
            shown[label] = shown.get(label, 0.0) + record["time"] - previous
        previous = record["time"]
    # The reference run has classes on top below the threshold (the case that disagreed).
    assert any(shown.get(label, 0.0) < seconds for label, seconds in total.items())

    rows = {
        match[1].strip(): match[2].strip()
        for match in re.finditer(r"^│ (.+?) │ (.+?) │$", err, re.MULTILINE)
    }
    for label, seconds in total.items():
        assert rows[label] == f"{_clock(seconds)}  ({_clock(shown.get(label, 0.0))} shown)", err
    # The model row says which network ran and why, as the first stderr line does.
    assert rows["model"] == "mobilenet pro (SenseKit, --weights-dir)", rows["model"]
    assert f"model: {rows['model']}" in err.splitlines()[0]
    other = {"source", "model", "duration", "frames", "calories"}
    classes = [key for key in rows if key not in other]
    assert sorted(classes) == sorted(total)
    words = " ".join(err.split())  # the caption wraps at the table's width
    assert "time per class: steps with it as JSONL `top`" in words
    assert "smoothed probability >= 0.5 (display threshold)" in words
