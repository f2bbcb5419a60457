"""`rtnet bench`: every section on a tiny configuration (no timing asserts), and what it measures
checked against the reference goldens."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rtnet.bench.backbone import VARIANTS, compare_outputs, run_variant
from rtnet.bench.common import BenchWeights, bench_weights, read_frames, synthetic_frames
from rtnet.cli import main
from rtnet.models import bf16_supported, build_backbone, build_head

TOLERANCE = 1e-4  # the reference README's agreement; never loosen it


@pytest.mark.slow
def test_bench_json_covers_every_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An empty weights folder: the bench writes its own stand-ins.
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
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    precisions = ["fp32", "bf16"] if bf16_supported() else ["fp32"]
    paths = ["plain", "fast", "bf16"][: len(precisions) + 1]
    assert report["weights"]["standin"] is True
    assert "stand-in" in report["weights"]["note"]
    assert report["preprocess"]["ring_ms"] > 0
    [timing] = report["backbone"]
    assert timing["network"] == "mobilenet"
    assert [v["variant"] for v in timing["variants"]] == paths
    assert timing["variants"][0]["speedup"] == 1.0
    assert all(v["ms_per_step"] > 0 and v["frames_per_s"] > 0 for v in timing["variants"])

    [agreement] = report["agreement"]
    assert agreement["clips"] == 2  # 8 frames
    assert [v["variant"] for v in agreement["variants"]] == paths[1:]
    fast = agreement["variants"][0]
    # The fast fp32 path computes what the plain one does: same features, same top-1 class.
    assert fast["feature_max_abs_diff"] <= TOLERANCE
    heads = {head["kind"]: head for head in fast["heads"]}
    assert heads["fitness"]["steps"] == 2
    assert heads["fitness"]["top1_agreement"] > 0.99
    assert heads["fitness"]["max_abs_diff"] <= TOLERANCE
    assert heads["met"]["same_top1"] is None and heads["met"]["max_abs_diff"] <= TOLERANCE

    runs = report["e2e"]
    assert [(r["app"], r["model"], r["precision"], r["history"]) for r in runs] == [
        ("fitness", "mobilenet", precision, False) for precision in precisions
    ] + [("fitness", "mobilenet", precisions[-1], True)]  # the history's cost, side by side
    for run in runs:
        assert run["error"] is None
        assert run["steps"] == 2 and run["frames_per_s"] > 0  # 8 frames
        # Each app imports torch: its peak is at least what importing torch alone holds.
        assert run["peak_rss_mb"] >= 0.9 * report["import_rss_mb"] > 50
    assert report["peak_rss_mb"] > 0


def test_agreement_tells_a_broken_variant_apart() -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=20).astype(np.float32)
    plain: dict[str, np.ndarray] = {
        "features": rng.random((20, 8)),
        "fitness": probs,
        "met": rng.random((20, 1)),
    }
    same = compare_outputs("fast", plain, dict(plain))
    assert same.feature_max_abs_diff == 0.0
    assert same.heads[0].top1_agreement == 1.0 and same.heads[0].same_top1 == 20
    # A variant that mislabels every class (probabilities shifted by one class) agrees nowhere.
    broken = dict(plain, fitness=np.roll(probs, 1, axis=1))
    fitness = compare_outputs("broken", plain, broken).heads[0]
    assert fitness.kind == "fitness" and fitness.top1_agreement == 0.0
    assert fitness.max_abs_diff > 0.1


@pytest.mark.slow
def test_bench_runs_the_apps_network(standin_weights_dir: Path, reference_dir: Path) -> None:
    # What the bench measures is the pipeline the apps run: on the reference stand-ins and video,
    # its fast path gives the original implementation's fitness probabilities and MET.
    weights = BenchWeights(standin_weights_dir, True, "reference stand-ins")
    frames = read_frames(reference_dir / "video.mkv", 64)
    fast = next(v for v in VARIANTS if v.name == "fast")
    outputs = run_variant(weights, "mobilenet", fast, frames)
    with np.load(reference_dir / "pipeline.npz") as pipeline:
        np.testing.assert_allclose(outputs["fitness"], pipeline["fitness_probs"], atol=TOLERANCE)
        np.testing.assert_allclose(outputs["met"][:, 0], pipeline["fitness_met"], atol=TOLERANCE)
    assert outputs["features"].shape == (16, 1280, 8, 8)


def test_bench_prints_tables_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "preprocess", "--frames", "5"]) == 0
    out = capsys.readouterr().out
    assert "Preprocessing" in out and "FrameRing.push" in out


def test_bench_rejects_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "backbone", "--steps", "0"]) == 2
    assert capsys.readouterr().err == "rtnet: error: invalid --steps 0: expected 1 or more\n"
    assert main(["bench", "e2e", "--video", str(tmp_path / "missing.mp4")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_standin_weights_load(tmp_path: Path) -> None:
    weights = bench_weights(tmp_path / "empty", tmp_path, ["mobilenet"])
    assert weights.standin and weights.root == tmp_path / "weights"
    build_backbone("mobilenet", weights.backbone("mobilenet"))
    build_head("fitness", weights.file("mobilenet", "fitness"))
    build_head("met", weights.file("mobilenet", "met"))
    assert not (weights.root / "backbone/strided_inflated_efficientnet.ckpt").exists()


def test_synthetic_frames_move() -> None:
    frames = synthetic_frames(8)
    assert len(frames) == 8
    assert all(f.shape == (480, 640, 3) and f.dtype == np.uint8 for f in frames)
    assert not np.array_equal(frames[0], frames[4])


@pytest.mark.slow
def test_bench_pose_against_litert(tflite_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """rtnet's landmark modules and MediaPipe's files under LiteRT, side by side, then the
    trackers end to end with and without hands."""
    assert main(["bench", "pose", "--json", "--frames", "8", "--tflite", str(tflite_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    pose = report["pose"]
    assert [t["network"] for t in pose["timings"]] == ["pose_landmarks", "pose_detector"]
    assert all(t["rtnet_ms"] > 0 and t["litert_ms"] > 0 for t in pose["timings"])
    assert pose["litert"].startswith("LiteRT XNNPACK")
    assert pose["kernels"] in ("avx512", "avx2+fma", "portable")
    runs = report["pose_e2e"]
    assert [r["app"] for r in runs] == ["pose --no-hands", "pose", "fitness --model pose"]
    assert all(r["error"] is None for r in runs)
    assert [r["steps"] for r in runs] == [8, 8, 2]  # pose: a line per frame; fitness: per step


def test_bench_pose_says_why_litert_is_not_measured() -> None:
    from rtnet.bench.pose import _litert

    assert _litert(None, 1) == ({}, _litert(None, 2)[1])
    assert "--tflite" in _litert(None, 1)[1]
