"""`rtnet bench`: a smoke run of every section on a tiny configuration (no timing asserts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rtnet.bench import reference_frames, write_standin_weights
from rtnet.cli import main
from rtnet.models import bf16_supported, build_backbone, build_head

TOLERANCE = 1e-4


def test_bench_json_covers_every_section(
    tmp_path: Path, reference_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An empty weights folder: the bench writes stand-ins (reference fill rule and heads).
    code = main(
        [
            "bench",
            "--json",
            "--network",
            "mobilenet",
            "--steps",
            "1",
            "--frames",
            "8",
            "--weights-dir",
            str(tmp_path),
            "--reference",
            str(reference_dir),
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    precisions = ["fp32", "bf16"] if bf16_supported() else ["fp32"]
    paths = ["plain", "fast", "bf16"][: len(precisions) + 1]
    assert report["weights"]["standin"] is True
    assert "stand-in" in report["weights"]["note"]
    assert report["preprocess"]["ring_ms"] > 0
    timings = report["backbone"]["mobilenet"]
    assert list(timings) == paths
    assert timings["plain"]["speedup"] == 1.0
    assert all(t["ms_per_step"] > 0 and t["frames_per_s"] > 0 for t in timings.values())
    agreement = report["agreement"]["mobilenet"]
    assert report["agreement"]["clips"] == 2  # 8 frames
    assert agreement["fp32_max_abs_diff"] <= TOLERANCE
    assert agreement["fp32_golden_max_abs_diff"] <= TOLERANCE  # the fill rule reproduced
    if bf16_supported():
        assert agreement["bf16_fitness"]["steps"] == 2
        assert 0 <= agreement["bf16_fitness"]["top1_agreement"] <= 1
    runs = report["e2e"]
    assert [(r["app"], r["model"], r["precision"]) for r in runs] == [
        ("fitness", "mobilenet", precision) for precision in precisions
    ]
    for run in runs:
        assert "error" not in run
        assert run["steps"] == 2 and run["frames_per_s"] > 0 and run["peak_rss_mb"] > 0
    assert report["import_rss_mb"] > 0 and report["peak_rss_mb"] > 0


def test_bench_prints_tables_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "preprocess", "--frames", "5"]) == 0
    out = capsys.readouterr().out
    assert "Preprocessing" in out and "FrameRing.push" in out


def test_bench_rejects_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "backbone", "--steps", "0"]) == 2
    assert capsys.readouterr().err == "rtnet: error: invalid --steps 0: expected 1 or more\n"
    assert main(["bench", "backbone", "--reference", str(tmp_path)]) == 2
    assert "no reference fixtures" in capsys.readouterr().err


def test_standin_weights_without_the_reference_load(tmp_path: Path) -> None:
    # Users have no reference folder: the stand-ins then come from the networks' own layout.
    root = write_standin_weights(tmp_path, None, ["mobilenet"])
    build_backbone("mobilenet", root / "backbone/strided_inflated_mobilenet.ckpt")
    build_head("fitness", root / "fitness_activity_recognition/simn_logreg.ckpt")
    build_head("met", root / "calorie_estimation/simn_met_converter.ckpt")
    assert not (root / "backbone/strided_inflated_efficientnet.ckpt").exists()


def test_without_the_reference_video_frames_are_synthetic_and_moving() -> None:
    frames = reference_frames(None, 8)
    assert len(frames) == 8
    assert all(f.shape == (480, 640, 3) and f.dtype == np.uint8 for f in frames)
    assert not np.array_equal(frames[0], frames[4])
