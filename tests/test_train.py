"""Custom classifiers end to end: a generated dataset of shapes moving left, moving right, growing
and staying still; `rtnet train --backbone lite0` on it; `rtnet run --classifier` on held-out
videos; the feature cache; checkpoints; and every error a user can run into.

Features are extracted once per session (the ``trained`` fixture); other tests work on copies
of that dataset, whose cached features copy along."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console

from engine_helpers import run_cli
from rtnet.errors import ConfigError, WeightsError
from rtnet.record import RecordOptions, record
from rtnet.sources import VideoFileSource
from rtnet.training.backbones import choose_backbone
from rtnet.training.classifier import (
    WEIGHTS_FILE,
    Checkpoint,
    ClassifierNetwork,
    LoadedClassifier,
    load_classifier,
    read_checkpoint,
    write_checkpoint,
)
from rtnet.training.dataset import ClipOrigin, discover, find_leaks, write_origin
from rtnet.training.features import Extractor, extract_video
from rtnet.training.train import Trainer, TrainOptions, TrainResult
from synthetic_actions import ACTIONS, action_frames, make_dataset, write_action, write_video

pytestmark = pytest.mark.slow  # trains classifiers on synthetic videos


@dataclass(frozen=True)
class Trained:
    dataset: Path
    checkpoint: Path
    status: int
    output: str


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    dataset = make_dataset(tmp_path_factory.mktemp("shapes"), train=6, valid=2)
    status, output, errors = run_cli(
        "train", dataset, "--backbone", "lite0", "--name", "shapes", "--weights-dir", dataset
    )
    assert status == 0, errors
    return Trained(dataset, dataset / "checkpoints" / "shapes", status, output)


def clip_network(loaded: LoadedClassifier) -> ClassifierNetwork:
    """The network of a classifier on a video backbone (the pose backbone's takes frames)."""
    assert isinstance(loaded.network, ClassifierNetwork)
    return loaded.network


def copy_dataset(trained: Trained, tmp_path: Path) -> Path:
    """A copy with the cached features (copy2 keeps modification times: entries stay valid)."""
    return Path(shutil.copytree(trained.dataset, tmp_path / "dataset", copy_function=shutil.copy2))


def quick_train(dataset: Path, **options: object) -> tuple[TrainResult, str]:
    console = Console(file=io.StringIO(), width=150)
    result = Trainer(
        TrainOptions(
            **{"dataset": dataset, "backbone": "lite0", "epochs": 2, "force": True, **options}  # type: ignore[arg-type]
        ),
        console,
    ).run()
    return result, console.file.getvalue()  # type: ignore[attr-defined]


# -- training and running ----------------------------------------------------------------------


def test_train_reaches_90_percent_validation_accuracy(trained: Trained) -> None:
    config = json.loads((trained.checkpoint / "config.json").read_text())
    metrics = config["metrics"]
    assert metrics["valid_accuracy"] >= 0.9, trained.output
    assert set(metrics["per_class_accuracy"]) == set(ACTIONS)
    assert np.trace(metrics["confusion"]) == round(metrics["valid_accuracy"] * 40)
    assert (config["backbone"], config["version"], config["fps"], config["step"]) == (
        "lite0",
        None,
        16.0,
        4,
    )
    assert json.loads((trained.checkpoint / "labels.json").read_text()) == sorted(ACTIONS)
    # The report: progress bars, per-class accuracy and the confusion matrix.
    for text in ("Extracting features", "Training", "accuracy per class", "Confusion matrix"):
        assert text in trained.output
    assert "32 videos extracted, 0 reused" in trained.output
    # The progress line says how training ended (rtnet.training.advice.stop_reason).
    assert "ran all" in trained.output or "stopped early at epoch" in trained.output


@pytest.mark.parametrize("action", ACTIONS)
def test_run_classifier_recognises_a_held_out_video(
    trained: Trained, action: str, tmp_path: Path
) -> None:
    # 3 s: the head's context is 2 s, and it answers from 1 s into a stream.
    video = write_action(tmp_path / f"{action}.mkv", action, seed=5000, seconds=3.0)
    jsonl = tmp_path / "out.jsonl"
    status, _, errors = run_cli(
        "run", "--classifier", trained.checkpoint, "--path-in", video,
        "--no-window", "--quiet", "--jsonl", jsonl,
    )  # fmt: skip
    assert status == 0, errors
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(12))  # 3 s, a step per 4 frames
    assert all(len(r["probs"]) == len(ACTIONS) for r in records)
    # Once the head has seen a second of it (4 steps), the answer is mostly the action.
    settled = [r["top"]["label"] for r in records[3:]]
    assert Counter(settled).most_common(1)[0][0] == action, settled


def test_run_classifier_checks_its_options(trained: Trained, tmp_path: Path) -> None:
    video = write_action(tmp_path / "clip.mkv", "static", seed=1, seconds=1.0)
    status, _, errors = run_cli(
        "run", "--classifier", trained.checkpoint, "--path-in", video,
        "--no-window", "--quiet", "--model", "mobilenet",
    )  # fmt: skip
    assert status == 2
    assert errors.startswith("rtnet: error: ") and "lite0 backbone, not mobilenet" in errors
    status, _, errors = run_cli(
        "run", "--classifier", tmp_path / "nothing", "--path-in", video, "--no-window"
    )
    assert status == 2 and errors.count("\n") == 1
    assert "classifier not found" in errors


# -- the feature cache -------------------------------------------------------------------------


def test_feature_cache_is_reused_and_invalidated(trained: Trained, tmp_path: Path) -> None:
    dataset = copy_dataset(trained, tmp_path)
    result, output = quick_train(dataset)
    assert (result.extracted, result.reused) == (0, 32)
    assert "0 videos extracted, 32 reused" in output

    # Touched (same bytes, new time): still valid, by content hash.
    video = dataset / "videos_train" / "growing" / "clip_0.mkv"
    stat = video.stat()
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    result, _ = quick_train(dataset)
    assert (result.extracted, result.reused) == (0, 32)

    # Changed content: extracted again, and only that one.
    entry = dataset / "features" / "lite0" / "grid-4" / "train" / "growing" / "clip_0.mkv.npz"
    before = np.load(entry)["features"]
    write_action(video, "growing", seed=777)
    result, _ = quick_train(dataset)
    assert (result.extracted, result.reused) == (1, 31)
    assert not np.array_equal(np.load(entry)["features"], before)
    result, _ = quick_train(dataset)
    assert (result.extracted, result.reused) == (0, 32)


# -- checkpoints -------------------------------------------------------------------------------


def test_checkpoint_round_trip(trained: Trained, tmp_path: Path) -> None:
    checkpoint = read_checkpoint(trained.checkpoint)
    assert checkpoint.labels == tuple(sorted(ACTIONS))
    assert checkpoint.backbone_state == {}  # head only
    copy = write_checkpoint(
        Checkpoint(
            tmp_path / "copy",
            checkpoint.labels,
            checkpoint.config,
            checkpoint.head_state,
            checkpoint.backbone_state,
        )
    )
    again = read_checkpoint(copy)
    assert again.labels == checkpoint.labels
    assert again.config == checkpoint.config
    assert again.head_state.keys() == checkpoint.head_state.keys()
    assert all(torch.equal(again.head_state[k], v) for k, v in checkpoint.head_state.items())

    # Both run the same: a few random clips give the same probabilities.
    clips = np.random.default_rng(0).random((3, 4, 3, 256, 256), dtype=np.float32)
    outputs = []
    for loaded in (load_classifier(checkpoint), load_classifier(again)):
        network = clip_network(loaded)
        network.reset()
        outputs.append([network(clip)["classifier"] for clip in clips])
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-6)
    assert np.allclose(np.sum(outputs[0], axis=1), 1, atol=1e-5)


@pytest.fixture
def small_dataset(tmp_path: Path) -> Path:
    """Two classes, one 1 s video each per split: enough to exercise a code path, quickly."""
    dataset = tmp_path / "small"
    for split, seed in (("train", 0), ("valid", 100)):
        for action in ("moving_left", "moving_right"):
            write_action(dataset / f"videos_{split}" / action / "a.mkv", action, seed, seconds=1.0)
    return dataset


def test_finetuned_layers_are_saved_and_loaded(small_dataset: Path) -> None:
    dataset = small_dataset
    result, _ = quick_train(dataset, finetune_layers=1, name="tuned")
    checkpoint = read_checkpoint(result.checkpoint)
    assert checkpoint.config.finetune_layers == 1
    assert checkpoint.backbone_state and all(
        k.startswith("cnn.17.") for k in checkpoint.backbone_state
    )
    assert (dataset / "features" / "lite0" / "finetune-1" / "train").is_dir()
    backbone = clip_network(load_classifier(checkpoint)).backbone.state_dict()
    for key, value in checkpoint.backbone_state.items():
        assert torch.equal(backbone[key].contiguous(), value.contiguous())


def test_a_sensekit_backbone_trains_and_runs_too(
    small_dataset: Path, standin_weights_dir: Path
) -> None:
    result, _ = quick_train(small_dataset, backbone="efficientnet", weights_dir=standin_weights_dir)
    assert (result.choice.name, result.choice.version) == ("efficientnet", "pro")
    assert (small_dataset / "features" / "efficientnet" / "grid-4" / "train").is_dir()
    checkpoint = read_checkpoint(result.checkpoint)
    assert (checkpoint.config.backbone, checkpoint.config.version) == ("efficientnet", "pro")
    network = clip_network(load_classifier(checkpoint, weights_dir=standin_weights_dir))
    assert network.channels == "bgr"  # as the SenseKit networks were trained
    clip = np.random.default_rng(0).random((4, 3, 256, 256), dtype=np.float32)
    assert network(clip)["classifier"].shape == (2,)
    with pytest.raises(WeightsError, match="no efficientnet pro"):
        load_classifier(checkpoint, weights_dir=small_dataset)


def test_broken_checkpoints_are_clear_errors(trained: Trained, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(trained.checkpoint, tmp_path / "ckpt"))
    (folder / WEIGHTS_FILE).write_bytes((folder / WEIGHTS_FILE).read_bytes()[:1000])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        read_checkpoint(folder)
    (folder / "labels.json").unlink()
    with pytest.raises(ConfigError, match=r"labels\.json is missing"):
        read_checkpoint(folder)


def test_checkpoints_of_an_older_format_say_to_train_again(
    trained: Trained, tmp_path: Path
) -> None:
    """Format 1 heads saw lite0 at 4 Hz, which lite0 no longer computes: refused, with what to
    do, before anything runs."""
    folder = Path(shutil.copytree(trained.checkpoint, tmp_path / "old"))
    config = json.loads((folder / "config.json").read_text())
    assert config["format"] == 2
    config["format"] = 1
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"older rtnet \(format 1\).*train it again"):
        read_checkpoint(folder)
    video = write_action(tmp_path / "clip.mkv", "static", seed=1, seconds=1.0)
    status, _, errors = run_cli("run", "--classifier", folder, "--path-in", video, "--no-window")
    assert status == 2 and errors.count("\n") == 1 and "train it again" in errors


def test_a_head_for_another_feature_rate_is_refused(trained: Trained, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(trained.checkpoint, tmp_path / "rate"))
    config = json.loads((folder / "config.json").read_text())
    assert config["head"]["features_per_step"] == 4  # lite0: a feature per frame
    config["head"]["features_per_step"] = 1
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="takes 1 features per model step, the lite0 backbone"):
        load_classifier(read_checkpoint(folder))


def test_context_sets_how_much_the_head_sees(small_dataset: Path) -> None:
    result, output = quick_train(small_dataset, context=1.0, name="short")
    config = json.loads((result.checkpoint / "config.json").read_text())
    assert config["head"]["steps"] == 4 and config["training"]["context_s"] == 1.0
    assert "windows of 1 s" in output
    assert [epoch.epoch for epoch in result.history] == list(range(1, result.epochs_run + 1))
    assert all(0 <= e.train_accuracy <= 1 and 0 <= e.valid_accuracy <= 1 for e in result.history)
    status, _, errors = run_cli(
        "train", small_dataset, "--backbone", "lite0", "--context", "0", "--name", "x"
    )
    assert status == 2 and "invalid --context 0: expected 0.25 to 16 seconds" in errors


# -- backbone choice ---------------------------------------------------------------------------


def test_default_backbone_is_lite0_without_sensekit_weights(
    tmp_path: Path, standin_weights_dir: Path
) -> None:
    assert choose_backbone(weights_dir=tmp_path).name == "lite0"
    found = choose_backbone(weights_dir=standin_weights_dir)
    assert (found.name, found.version) == ("efficientnet", "pro")
    with pytest.raises(WeightsError, match="--backbone lite0"):
        choose_backbone("mobilenet", "lite", weights_dir=tmp_path)
    with pytest.raises(ConfigError, match="no versions"):
        choose_backbone("lite0", "pro")


# -- dataset errors ----------------------------------------------------------------------------


def _touch_videos(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")


def test_dataset_errors_name_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dataset folder not found"):
        discover(tmp_path / "absent")
    with pytest.raises(ConfigError, match="no videos_train folder"):
        discover(tmp_path)
    _touch_videos(tmp_path / "videos_train" / "wave", "a.mp4")
    with pytest.raises(ConfigError, match="at least two class folders"):
        discover(tmp_path)
    (tmp_path / "videos_train" / "clap").mkdir()
    (tmp_path / "videos_train" / "clap" / "notes.txt").write_text("not a video")
    with pytest.raises(ConfigError, match=r"class 'clap' is empty"):
        discover(tmp_path)
    _touch_videos(tmp_path / "videos_train" / "clap", "b.mkv")
    with pytest.raises(ConfigError, match=r"class 'clap' has no validation videos"):
        discover(tmp_path)
    _touch_videos(tmp_path / "videos_valid" / "clap", "c.avi")
    with pytest.raises(ConfigError, match=r"class 'wave' has no validation videos"):
        discover(tmp_path)
    _touch_videos(tmp_path / "videos_valid" / "wave", "d.mp4")
    _touch_videos(tmp_path / "videos_valid" / "jump", "e.mp4")
    with pytest.raises(ConfigError, match="classes that videos_train lacks: jump"):
        discover(tmp_path)
    shutil.rmtree(tmp_path / "videos_valid" / "jump")
    dataset = discover(tmp_path)
    assert dataset.labels == ("clap", "wave")
    assert [v.name for v in dataset.videos["valid"]] == [
        "videos_valid/clap/c.avi",
        "videos_valid/wave/d.mp4",
    ]


def test_bad_videos_are_skipped_with_a_warning(trained: Trained, tmp_path: Path) -> None:
    dataset = copy_dataset(trained, tmp_path)
    (dataset / "videos_train" / "static" / "broken.mp4").write_bytes(b"\0garbage" * 100)
    write_action(dataset / "videos_train" / "growing" / "short.mkv", "growing", 9, seconds=0.5)
    result, output = quick_train(dataset)
    skipped = {item.video.name: item.reason for item in result.skipped}
    assert set(skipped) == {"videos_train/static/broken.mp4", "videos_train/growing/short.mkv"}
    assert "not a video, or corrupt" in skipped["videos_train/static/broken.mp4"]
    assert "too short: 0.50 s, needs at least 1 s" in skipped["videos_train/growing/short.mkv"]
    assert "warning: skipped videos_train/static/broken.mp4" in output
    assert "2 skipped" in output  # and listed again in the summary
    config = json.loads((result.checkpoint / "config.json").read_text())
    assert len(config["dataset"]["skipped"]) == 2


def test_a_class_without_usable_videos_is_an_error(trained: Trained, tmp_path: Path) -> None:
    dataset = copy_dataset(trained, tmp_path)
    valid = dataset / "videos_valid" / "static"
    shutil.rmtree(valid)
    valid.mkdir()
    (valid / "broken.mkv").write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="'static' has no usable videos in videos_valid"):
        quick_train(dataset)


def test_train_errors_through_the_cli(trained: Trained, tmp_path: Path) -> None:
    status, _, errors = run_cli("train", tmp_path / "absent")
    assert (
        status == 2 and errors == f"rtnet: error: dataset folder not found: {tmp_path / 'absent'}\n"
    )
    status, _, errors = run_cli(
        "train", trained.dataset, "--backbone", "lite0", "--finetune-layers", "99"
    )
    assert status == 2 and "the lite0 backbone has 18 layers" in errors
    status, _, errors = run_cli(
        "train", trained.dataset, "--backbone", "efficientnet", "--weights-dir", tmp_path
    )
    assert status == 2 and "--backbone lite0" in errors and errors.count("\n") == 1


def test_videos_of_any_fps_are_resampled_like_the_apps_do(tmp_path: Path) -> None:
    """A 32 fps video of the same scene gives the 16 fps video's features: every other frame."""
    frames = action_frames("moving_right", np.random.default_rng(3), 16)
    slow = write_video(tmp_path / "16.mkv", frames, fps=16)
    fast = write_video(tmp_path / "32.mkv", [f for f in frames for _ in (0, 1)], fps=32)
    choice = choose_backbone("lite0")
    backbone = choice.build()
    extractor = Extractor(choice, backbone, len(backbone.cnn))
    (a, steps_a), (b, steps_b) = (
        extract_video(slow, extractor, 4),
        extract_video(fast, extractor, 4),
    )
    assert steps_a == steps_b == 4
    np.testing.assert_array_equal(a, b)


# -- the checkpoint folder ---------------------------------------------------------------------


def test_an_existing_checkpoint_is_kept_without_force(small_dataset: Path) -> None:
    result, _ = quick_train(small_dataset, name="v1", force=False, epochs=1)
    weights = result.checkpoint / WEIGHTS_FILE
    before = weights.stat().st_mtime_ns
    with pytest.raises(ConfigError, match="v1 already exists: pass --force to overwrite it"):
        quick_train(small_dataset, name="v1", force=False)
    args = ("train", small_dataset, "--backbone", "lite0", "--name", "v1", "--epochs", "1")
    status, _, errors = run_cli(*args)
    assert status == 2 and errors.count("\n") == 1
    assert errors.startswith(f"rtnet: error: checkpoint {small_dataset / 'checkpoints' / 'v1'}")
    assert weights.stat().st_mtime_ns == before  # untouched
    status, _, errors = run_cli(*args, "--force")
    assert status == 0, errors
    assert weights.stat().st_mtime_ns != before


# -- validation clips that repeat training clips -----------------------------------------------


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_find_leaks_by_content_and_by_span(tmp_path: Path) -> None:
    source = str(tmp_path / "long.mp4")
    files = {
        "videos_train/a/x.mp4": (b"same bytes", None),
        "videos_train/b/y.mp4": (b"y" * 20, ClipOrigin(source, 0.0, 2.0)),
        "videos_valid/a/copy.mp4": (b"same bytes", None),  # renamed copy of x
        "videos_valid/a/other.mp4": (b"SAME BYTES", None),  # same size, other bytes
        "videos_valid/b/overlap.mp4": (b"z" * 30, ClipOrigin(source, 1.5, 3.5)),
        "videos_valid/b/after.mp4": (b"w" * 40, ClipOrigin(source, 2.0, 4.0)),  # touches y
        "videos_valid/b/elsewhere.mp4": (b"v" * 50, ClipOrigin(source + "2", 0.0, 2.0)),
    }
    for name, (data, origin) in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if origin is not None:
            write_origin(path, origin)
    leaks = find_leaks(discover(tmp_path), _sha256)
    assert [leak.message() for leak in leaks] == [
        "videos_valid/a/copy.mp4 is identical to videos_train/a/x.mp4 (same content)",
        "videos_valid/b/overlap.mp4 overlaps videos_train/b/y.mp4 "
        "(1.50-3.50 s of long.mp4 and 0.00-2.00 s of long.mp4)",
    ]


def test_train_warns_when_validation_clips_repeat_training_clips(
    small_dataset: Path, tmp_path: Path
) -> None:
    """Clips cut from one file into both splits: the same cut twice (identical files) and
    overlapping cuts (different files) are both named, in the output and in the result."""
    take = write_action(tmp_path / "take.mkv", "moving_right", seed=42, seconds=3.0)

    def cut(split: str, start: float) -> Path:
        options = RecordOptions(small_dataset, "moving_right", split, 1.5, 0.0, start)
        recording = record(VideoFileSource(take), options)
        assert recording is not None
        return recording.path

    train = cut("train", 0.0)
    same = cut("valid", 0.0)
    overlapping = cut("valid", 1.0)
    assert same.read_bytes() == train.read_bytes() != overlapping.read_bytes()
    cut("valid", 1.5)  # after the training cut: fine

    result, output = quick_train(small_dataset, epochs=1)
    messages = [leak.message() for leak in result.leaks]
    assert messages == [
        "videos_valid/moving_right/moving_right_001.mp4 is identical to "
        "videos_train/moving_right/moving_right_001.mp4 (same content)",
        "videos_valid/moving_right/moving_right_002.mp4 overlaps "
        "videos_train/moving_right/moving_right_001.mp4 "
        "(1.00-2.50 s of take.mkv and 0.00-1.50 s of take.mkv)",
    ]
    text = " ".join(output.split())
    for message in messages:
        assert f"warning: {message}" in text
    assert "warning: 2 validation videos repeat training videos" in text
    config = json.loads((result.checkpoint / "config.json").read_text())
    assert config["dataset"]["leaks"] == messages
    clean, output = quick_train(without_recorded_clips(small_dataset, tmp_path), epochs=1)
    assert clean.leaks == () and "warning" not in output


def without_recorded_clips(dataset: Path, tmp_path: Path) -> Path:
    """The dataset without the recorded clips: nothing repeats."""
    copy = Path(shutil.copytree(dataset, tmp_path / "clean"))
    for clip in copy.glob("videos_*/*/moving_right_*"):
        clip.unlink()
    return copy
