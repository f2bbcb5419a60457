"""Custom classifiers on the pose backbone (``rtnet train --backbone pose``): the built-in pose and
hand trackers' landmarks as features (rtnet.training.pose_backbone), trained, run and scored
like lite0's, on clips of a person moving (tests/synthetic_person.py)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine_helpers import run_cli
from rtnet.training.backbones import choose_backbone
from rtnet.training.classifier import OUTPUT, load_classifier, read_checkpoint
from rtnet.training.evaluate import iterate_steps, step_network
from rtnet.training.landmark_features import FEATURES
from rtnet.training.pose_backbone import FEATURES_PER_STEP, LandmarkFeatures
from synthetic_person import make_person_dataset, person_frames

pytestmark = pytest.mark.slow  # tracks a person through some 30 clips

MOTIONS = ("moving_down", "moving_up", "nothing")


@dataclass(frozen=True)
class Trained:
    dataset: Path
    checkpoint: Path
    output: str


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    dataset = make_person_dataset(
        tmp_path_factory.mktemp("person"), train=5, valid=2, test=1, seconds=2.5, motions=MOTIONS
    )
    status, output, errors = run_cli(
        "train", dataset, "--backbone", "pose", "--epochs", "60", "--threads", "1"
    )
    assert status == 0, errors
    return Trained(dataset, dataset / "checkpoints" / "pose", output)


def test_pose_classifier_trains_on_landmarks(trained: Trained) -> None:
    config = json.loads((trained.checkpoint / "config.json").read_text())
    assert (config["backbone"], config["version"]) == ("pose", None)
    assert config["head"]["grid"] == 1 and config["head"]["features_per_step"] == FEATURES_PER_STEP
    assert config["finetune_layers"] == 0
    assert config["metrics"]["valid_accuracy"] >= 0.8, trained.output
    # Features are cached per frame, one FEATURES-long vector each, under features/pose.
    entries = sorted((trained.dataset / "features" / "pose").rglob("*.npz"))
    assert len(entries) == 3 * 7  # training and validation clips
    with np.load(entries[0]) as data:
        assert data["features"].shape[1:] == (FEATURES, 1, 1)
        assert data["features"].shape[0] % FEATURES_PER_STEP == 0
    # A second run reuses them.
    status, output, _ = run_cli(
        "train", trained.dataset, "--backbone", "pose", "--epochs", "1", "--name", "again"
    )
    assert status == 0 and "0 videos extracted, 21 reused" in output


def test_run_and_eval_agree_on_held_out_clips(trained: Trained, tmp_path: Path) -> None:
    status, out, errors = run_cli(
        "eval", trained.dataset, "--classifier", trained.checkpoint, "--json"
    )
    assert status == 0, errors
    report = json.loads(out)
    assert report["accuracy"] >= 2 / 3, report
    for video in report["videos"]:
        path = trained.dataset / video["video"]
        jsonl = tmp_path / f"{path.parent.name}.jsonl"
        status, _, errors = run_cli(
            "run", "--classifier", trained.checkpoint, "--path-in", path,
            "--no-window", "--quiet", "--jsonl", jsonl,
        )  # fmt: skip
        assert status == 0, errors
        records = [json.loads(line) for line in jsonl.read_text().splitlines()]
        assert [r["step"] for r in records] == list(range(video["steps"]))
        # The engine's frames network and eval's batches give the same probabilities.
        engine = np.array([r["probs"] for r in records])
        network = step_network(load_classifier(read_checkpoint(trained.checkpoint)).network)
        batched = np.array(list(iterate_steps(network, OUTPUT, path)))
        np.testing.assert_allclose(engine, batched, atol=2e-4)
    held_out = Counter(v["correct"] for v in report["videos"])
    assert held_out[True] >= 2, report


def test_a_mirrored_camera_gives_the_features_of_the_unmirrored_view(tmp_path: Path) -> None:
    frames = person_frames("moving_up", np.random.default_rng(3), 1.0, 16.0)
    indices = list(range(len(frames)))
    plain = LandmarkFeatures()(frames, indices)
    mirrored = LandmarkFeatures(mirrored=True)([f[:, ::-1] for f in frames], indices)
    assert plain[:, 0].mean() > 0.8  # the person was tracked
    np.testing.assert_array_equal(plain, mirrored)


def test_pose_backbone_options_are_checked(trained: Trained) -> None:
    status, _, errors = run_cli(
        "train", trained.dataset, "--backbone", "pose", "--finetune-layers", "1", "--name", "x"
    )
    assert status == 2 and "rtnet: error: --finetune-layers" in errors
    assert "no trainable layers" in errors and "Traceback" not in errors
    status, _, errors = run_cli("train", trained.dataset, "--backbone", "pose", "--version", "pro")
    assert status == 2 and "the pose backbone has no versions" in errors
    # A checkpoint that says pose with a SenseKit version is refused as a bad config.
    bad = trained.dataset / "checkpoints" / "bad"
    bad.mkdir()
    for name in ("classifier.pt", "labels.json"):
        (bad / name).write_bytes((trained.checkpoint / name).read_bytes())
    config = json.loads((trained.checkpoint / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps(config | {"version": "pro"}))
    status, _, errors = run_cli("run", "--classifier", bad, "--path-in", "x.mp4", "--no-window")
    assert status == 2 and "invalid version" in errors


def test_choose_backbone_finds_the_shipped_pose_model() -> None:
    choice = choose_backbone("pose")
    assert choice.landmarks and choice.features == FEATURES and choice.path.is_file()
    assert choice.label == "pose" and choice.key == "pose"


def _probs(jsonl: Path) -> np.ndarray:
    return np.array([json.loads(line)["probs"] for line in jsonl.read_text().splitlines()])


def test_recorded_landmarks_give_what_the_video_gives(trained: Trained, tmp_path: Path) -> None:
    clip = next((trained.dataset / "videos_test" / "moving_up").iterdir())
    on_video, recording = tmp_path / "video.jsonl", tmp_path / "pose.jsonl"
    for args in (
        ("pose", "--hands", "--path-in", clip, "--jsonl", recording),
        ("run", "--classifier", trained.checkpoint, "--path-in", clip, "--jsonl", on_video),
    ):
        status, _, errors = run_cli(*args, "--no-window", "--quiet")
        assert status == 0, errors
    replayed = tmp_path / "replayed.jsonl"
    status, _, errors = run_cli(
        "run", "--classifier", trained.checkpoint, "--landmarks-in", recording,
        "--no-window", "--quiet", "--jsonl", replayed,
    )  # fmt: skip
    assert status == 0, errors
    np.testing.assert_array_equal(_probs(replayed), _probs(on_video))
    # Recorded from a selfie view (mirrored frames): the features are turned back to the
    # unmirrored view's, so the classifier says what it says on the video.
    mirrored, replayed = tmp_path / "mirrored.jsonl", tmp_path / "replayed-mirrored.jsonl"
    status, _, errors = run_cli(
        "pose", "--hands", "--mirror", "--path-in", clip, "--jsonl", mirrored,
        "--no-window", "--quiet",
    )  # fmt: skip
    assert status == 0, errors
    status, _, errors = run_cli(
        "run", "--classifier", trained.checkpoint, "--landmarks-in", mirrored,
        "--no-window", "--quiet", "--jsonl", replayed,
    )  # fmt: skip
    assert status == 0, errors
    # Not the same numbers (the networks see a mirror image, and are not exactly symmetric),
    # but the same answer: the clip's class, and the same top class on most steps.
    selfie, plain = _probs(replayed), _probs(on_video)
    assert selfie.mean(axis=0).argmax() == plain.mean(axis=0).argmax()
    assert (selfie.argmax(axis=1) == plain.argmax(axis=1)).mean() >= 0.8, (selfie, plain)


def test_a_classifier_on_video_features_refuses_landmarks(trained: Trained, tmp_path: Path) -> None:
    lite0 = tmp_path / "lite0"
    lite0.mkdir()
    for name in ("classifier.pt", "labels.json"):
        (lite0 / name).write_bytes((trained.checkpoint / name).read_bytes())
    config = json.loads((trained.checkpoint / "config.json").read_text())
    (lite0 / "config.json").write_text(json.dumps(config | {"backbone": "lite0"}))
    recording = tmp_path / "pose.jsonl"
    recording.write_text(
        '{"frame": 0, "time": 0.0625, "pose": null, "hands": [], "size": [320, 240]}\n'
    )
    status, _, errors = run_cli(
        "run", "--classifier", lite0, "--landmarks-in", recording, "--no-window", "--quiet"
    )
    assert (
        status == 2 and "rtnet: error: --landmarks-in: lite0 runs on the lite0 backbone" in errors
    )
