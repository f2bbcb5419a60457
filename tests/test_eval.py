"""`rtnet eval`, `rtnet run` on several inputs, `rtnet bench eval`, and what `rtnet train` says
beyond its figures (overfitting, why it stopped), and output that stays one line when piped.

The classifier is a stand-in (lite0 with an untrained head, fixed seed): what is tested is how
videos are found, run, counted and reported, which does not depend on the head's weights; that
the batched path computes what `rtnet run` computes is checked step by step."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from engine_helpers import run_cli
from rtnet.bench.evaluate import standin_classifier
from rtnet.cli import main
from rtnet.cli.evaluate import print_eval
from rtnet.consoles import stdout_console
from rtnet.history import HistoryStore
from rtnet.resolve import Request, load, resolve
from rtnet.training.advice import OVERFITTING_GAP, overfitting_advice, stop_reason
from rtnet.training.backbones import choose_backbone
from rtnet.training.classifier import OUTPUT, read_checkpoint
from rtnet.training.evaluate import (
    EvalReport,
    EvalSet,
    EvalVideo,
    VideoScore,
    evaluate,
    find_videos,
    iterate_steps,
    settled_mean,
    step_network,
)
from synthetic_actions import write_action

LABELS = ("moving_left", "moving_right", "static")
SECONDS = 1.0  # 4 model steps per video: quick to run, long enough to batch


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return standin_classifier(tmp_path_factory.mktemp("eval") / "checkpoint", LABELS)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset with a held-out split: one video per class in videos_test."""
    root = tmp_path_factory.mktemp("dataset")
    for label in LABELS:
        write_action(root / "videos_train" / label / "a.mkv", label, 1, seconds=SECONDS)
        write_action(root / "videos_test" / label / "t.mkv", label, 7, seconds=SECONDS)
    return root


# -- rtnet eval ----------------------------------------------------------------------------------


def test_eval_scores_the_test_split_as_json(classifier: Path, dataset: Path) -> None:
    status, out, err = run_cli(
        "eval", "--classifier", classifier, dataset, "--json", "--precision", "fp32"
    )
    assert status == 0, err
    report = json.loads(out)
    assert report["labels"] == list(LABELS)
    assert report["source"] == str(dataset / "videos_test")
    videos = report["videos"]
    assert [v["video"] for v in videos] == [f"videos_test/{label}/t.mkv" for label in LABELS]
    assert [v["label"] for v in videos] == list(LABELS)
    for video in videos:
        assert video["steps"] == 4
        assert video["predicted"] == LABELS[int(np.argmax(video["probs"]))]
        assert video["correct"] == (video["predicted"] == video["label"])
    confusion = np.array(report["confusion"])
    assert confusion.shape == (3, 3) and confusion.sum() == 3
    for i, label in enumerate(LABELS):
        assert confusion[i, LABELS.index(videos[i]["predicted"])] == 1
        per_class = report["per_class"][label]
        assert per_class["videos"] == 1 and per_class["correct"] == int(videos[i]["correct"])
    assert report["accuracy"] == pytest.approx(np.trace(confusion) / 3)
    assert report["videos_per_s"] > 0 and report["classifier"] == str(classifier)


def test_eval_batches_compute_what_run_computes(classifier: Path, tmp_path: Path) -> None:
    checkpoint = read_checkpoint(classifier)
    network = step_network(load(resolve(Request(classifier=checkpoint)), precision="fp32").network)
    videos = [
        write_action(tmp_path / f"{label}.mkv", label, 3, seconds=1.25) for label in LABELS[:2]
    ]
    eval_set = EvalSet(tuple(EvalVideo(v, None, v.name) for v in videos), "two")
    # 5 steps a video in batches of 4: a batch ends inside a video, and videos follow each other
    # in the decoding thread, so temporal state must be reset at the right place.
    report = evaluate(network, OUTPUT, LABELS, eval_set, warmup_steps=2, batch_steps=4)
    for video, score in zip(videos, report.scores, strict=True):
        steps = np.stack(list(iterate_steps(network, OUTPUT, video)))  # one step per call
        assert score.steps == len(steps) == 5
        assert score.probs is not None
        np.testing.assert_allclose(score.probs, settled_mean(steps, 2), atol=1e-5)


def test_eval_prints_tables_and_a_total() -> None:
    def score(name: str, label: str | None, probs: list[float] | None) -> VideoScore:
        video = EvalVideo(Path(name), label, name)
        if probs is None:
            return VideoScore(video, None, 0, "cannot open video file")
        return VideoScore(video, np.array(probs, dtype=np.float32), 8)

    report = EvalReport(
        labels=LABELS,
        source="clips",
        scores=(
            score("a.mkv", "static", [0.1, 0.2, 0.7]),
            score("b.mkv", "static", [0.6, 0.2, 0.2]),
            score("c.mkv", "moving_left", [0.5, 0.3, 0.2]),
            score("d.mkv", None, [0.2, 0.5, 0.3]),
            score("e.mkv", "static", None),
        ),
        seconds=2.0,
        stream_seconds=8.0,
    )
    assert report.confusion.tolist() == [[1, 0, 0], [0, 0, 0], [1, 0, 1]]
    assert report.per_class() == [("moving_left", 1, 1), ("moving_right", 0, 0), ("static", 2, 1)]
    out = io.StringIO()
    print_eval(report, stdout_console(out))
    text = out.getvalue()
    for title in ("Predictions (clips)", "Accuracy per class", "Confusion matrix"):
        assert title in text
    assert "skipped" in text and "wrong" in text and "right" in text
    assert text.splitlines()[-1] == (
        "Accuracy 66.7% (2 of 3 videos); 4 videos (8 s of video) in 2.0 s: 2.00 videos/s; 1 skipped"
    )


def test_eval_a_folder_of_videos(classifier: Path, tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    write_action(folder / "loose.mkv", "static", 1, seconds=SECONDS)  # no class: predicted only
    write_action(folder / "static" / "s.mkv", "static", 2, seconds=SECONDS)
    (folder / "notes.txt").write_text("not a video")
    (folder / "broken.mp4").write_bytes(b"not a video at all")
    write_action(folder / "short.mkv", "static", 3, seconds=0.125)  # 2 frames: no model step
    status, out, err = run_cli(
        "eval", "--classifier", classifier, folder, "--json", "--precision", "fp32"
    )
    assert status == 0, err
    report = json.loads(out)
    by_name = {v["video"]: v for v in report["videos"]}
    assert set(by_name) == {"broken.mp4", "loose.mkv", "short.mkv", "static/s.mkv"}
    assert by_name["loose.mkv"]["label"] is None and by_name["loose.mkv"]["correct"] is None
    assert by_name["static/s.mkv"]["label"] == "static"
    assert "cannot open" in by_name["broken.mp4"]["error"]
    assert "too short" in by_name["short.mkv"]["error"]
    assert report["skipped"] == 2 and np.sum(report["confusion"]) == 1
    assert "skipped broken.mp4" in err and "skipped short.mkv" in err


def test_eval_errors_are_one_line(classifier: Path, dataset: Path, tmp_path: Path) -> None:
    no_test = tmp_path / "no_test"
    write_action(no_test / "videos_train" / "static" / "a.mkv", "static", 1, seconds=SECONDS)
    unknown = tmp_path / "unknown"
    write_action(unknown / "jumping" / "a.mkv", "static", 1, seconds=SECONDS)
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    (broken / "static").mkdir(parents=True)
    (broken / "static" / "x.mp4").write_bytes(b"\x00" * 100)
    cases = [
        ((tmp_path / "missing", dataset), "classifier not found"),
        ((classifier, no_test), "no videos_test folder"),
        ((classifier, unknown), "jumping not among the classifier's classes"),
        ((classifier, empty), "no videos in"),
        ((classifier, tmp_path / "nowhere"), "not found"),
        ((classifier, broken), "no video of"),
    ]
    for (checkpoint, path), message in cases:
        status, _, err = run_cli("eval", "--classifier", checkpoint, path, "--precision", "fp32")
        lines = [line for line in err.splitlines() if line.startswith("rtnet: error:")]
        assert status == 2 and len(lines) == 1 and message in lines[0], (message, err)
    with pytest.raises(SystemExit) as exit_:
        run_cli("eval", "--classifier", classifier, dataset, "--batch-steps", "0")
    assert exit_.value.code == 2


def test_find_videos_takes_files_and_folders(tmp_path: Path) -> None:
    one = write_action(tmp_path / "one.mkv", "static", 1, seconds=SECONDS)
    write_action(tmp_path / "set" / "videos_test" / "static" / "b.mkv", "static", 2)
    found = find_videos([one, tmp_path / "set"], LABELS)
    assert [(v.name, v.label) for v in found.videos] == [
        (str(one), None),
        ("videos_test/static/b.mkv", "static"),
    ]
    assert found.source == "2 inputs"


# -- rtnet run on several inputs ---------------------------------------------------------------


def test_run_takes_several_inputs_and_a_folder(
    classifier: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rtnet.resolve

    builds = []
    load_network = rtnet.resolve.load

    def counted(*args: Any, **kwargs: Any) -> Any:
        builds.append(args)
        return load_network(*args, **kwargs)

    monkeypatch.setattr(rtnet.resolve, "load", counted)
    clips = tmp_path / "clips"
    write_action(clips / "a.mkv", "static", 1, seconds=SECONDS)
    write_action(clips / "sub" / "b.mkv", "moving_left", 1, seconds=SECONDS)
    out = tmp_path / "out"
    out.mkdir()
    status, _, err = run_cli(
        "run", "--classifier", classifier, "--path-in", clips, "--jsonl", out,
        "--no-window", "--quiet", "--no-history", "--precision", "fp32",
    )  # fmt: skip
    assert status == 0, err
    for name in ("a.jsonl", "sub/b.jsonl"):
        records = [json.loads(line) for line in (out / name).read_text().splitlines()]
        assert [r["step"] for r in records] == [0, 1, 2, 3]  # each input a run of its own
    assert len(builds) == 1  # the network is built once
    # Files named one by one, the summary once per input.
    single = tmp_path / "single"
    single.mkdir()
    status, _, err = run_cli(
        "run", "--classifier", classifier, "--path-in", clips / "a.mkv", clips / "sub" / "b.mkv",
        "--jsonl", f"{single}/", "--no-window", "--no-history", "--precision", "fp32",
    )  # fmt: skip
    assert status == 0, err
    assert sorted(p.name for p in single.iterdir()) == ["a.jsonl", "b.jsonl"]
    assert err.count("summary") == 2


def test_run_refuses_ambiguous_outputs(classifier: Path, tmp_path: Path) -> None:
    a = write_action(tmp_path / "x" / "a.mkv", "static", 1, seconds=SECONDS)
    b = write_action(tmp_path / "y" / "a.mkv", "static", 2, seconds=SECONDS)
    out = tmp_path / "out"
    out.mkdir()
    cases: list[tuple[tuple[str | Path, ...], str]] = [
        (("--path-in", a, b, "--jsonl", tmp_path / "one.jsonl"), "names one output for 2 inputs"),
        (("--path-in", a, b, "--jsonl", "-"), "--jsonl - names one output"),
        (("--path-in", tmp_path / "x", b, "--path-out", tmp_path / "v.mp4"), "--path-out"),
        (("--path-in", a, b, "--jsonl", out), "would both write"),
        (("--path-in", a, b, "--jsonl", f"{tmp_path}/missing/"), "no such folder"),
        (("--path-in", a, tmp_path / "nope.mp4"), "video file not found"),
        (("--path-in", tmp_path / "z", "--path-out", tmp_path / "z"), "would overwrite an input"),
    ]
    (tmp_path / "z").mkdir()
    (tmp_path / "z" / "c.mp4").write_bytes(b"only its name matters here")
    for options, message in cases:
        status, _, err = run_cli("run", "--classifier", classifier, "--no-window", *options)
        assert status == 2 and err.startswith("rtnet: error:"), err
        assert len(err.splitlines()) == 1 and message in err, (message, err)
    assert not list(out.iterdir())  # refused before anything ran


# -- rtnet train: what it says beyond the figures --------------------------------------------------


def test_overfitting_advice_names_what_to_try() -> None:
    assert overfitting_advice(0.95, 0.95 - OVERFITTING_GAP + 0.01) is None
    advice = overfitting_advice(0.998, 0.56)
    assert advice is not None
    assert "100%" in advice and "56%" in advice and "44 points" in advice
    for remedy in ("more clips", "more varied clips", "longer context", "--finetune-layers"):
        assert remedy in advice


def test_stop_reason_says_when_and_why() -> None:
    assert stop_reason(100, 100, 80, 0.9) == "ran all 100 epochs; best 90% at epoch 80"
    early = stop_reason(37, 100, 12, 0.75)
    assert early.startswith("stopped early at epoch 37")
    assert "no better for 25 epochs" in early and "best 75% at epoch 12" in early


# -- output through a pipe ---------------------------------------------------------------------


def test_piped_output_keeps_long_lines_whole(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*(["a_rather_long_folder_name"] * 8))
    deep.mkdir(parents=True)
    database = deep / "history.sqlite3"
    HistoryStore(database).close()  # an empty history
    done = subprocess.run(
        [sys.executable, "-m", "rtnet", "history", "--history-db", str(database)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"no sessions in {database}\n" in done.stdout  # one line, however long


def test_train_report_hint_is_one_copyable_line(tmp_path: Path) -> None:
    from rtnet.consoles import stdout_console
    from rtnet.training.train import Evaluation, TrainResult, print_report

    folder = tmp_path.joinpath(*(["checkpoints with spaces"] * 6), "v2")
    confusion = np.array([[3, 2], [2, 3]])
    result = TrainResult(
        checkpoint=folder,
        labels=("a", "b"),
        choice=choose_backbone("lite0"),
        valid=Evaluation(accuracy=0.6, loss=1.0, confusion=confusion, video_accuracy=0.5),
        train_accuracy=1.0,
        window_s=2.0,
        best_epoch=3,
        epochs_run=28,
        extracted=4,
        reused=0,
        skipped=(),
    )
    out = io.StringIO()
    console = stdout_console(out)
    assert isinstance(console, Console) and not console.is_terminal
    print_report(result, console)
    lines = out.getvalue().splitlines()
    assert f"Saved {folder}  ->  rtnet run --classifier '{folder}'" in lines
    [warning] = [line for line in lines if "overfitting" in line]
    assert "--finetune-layers" in warning  # the advice, on one line too


# -- rtnet bench eval ------------------------------------------------------------------------------


@pytest.mark.slow
def test_bench_eval_measures_both_paths(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "eval", "--json", "--videos", "2", "--frames", "16"]) == 0
    report = json.loads(capsys.readouterr().out)["eval"]
    assert (report["videos"], report["frames_per_video"]) == (2, 16)
    paths = report["paths"]
    assert [p["path"].split(",")[0].split(":")[0] for p in paths] == [
        "rtnet run",
        "one video at a time",
        "rtnet eval",
        "rtnet eval --batch-steps 8",
    ]
    assert all(p["error"] is None and p["videos_per_s"] > 0 for p in paths)
    assert paths[0]["speedup"] == pytest.approx(1.0)
    assert report["same_predictions"] == 2 and report["max_prob_diff"] < 1e-5
