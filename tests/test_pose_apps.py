"""Fitness, calories and reps on the built-in pose models: the model choice, the real engine and
app on scripted landmarks (synthetic sequences instead of the trackers), and one real CLI run."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from engine_helpers import read_video, run_rtnet, write_lossless
from rtnet import CalorieAccumulator
from rtnet.apps import APPS, CALORIES, FITNESS, REPS, App, AppSpec, Profile, Summary
from rtnet.engine import Engine
from rtnet.errors import ConfigError
from rtnet.exercises import ExerciseEngine
from rtnet.labels import load_labels
from rtnet.resample import MODEL_FPS
from rtnet.resolve import LandmarkTracking, Request, SenseKitModel, resolve, runs_on_pose
from rtnet.sinks.jsonl import JsonlSink
from rtnet.tracking import FrameTracks, PoseResult, PoseSteps, Rect
from synthetic_pose import HEIGHT, WIDTH, generate
from test_engine import ListSource
from test_tracking import FIXTURES, load_make_reference

LABELS = load_labels()
NOT_FOUND = "model: pose (built-in) - SenseKit weights not found, see rtnet weights"


class ScriptedTracking:
    """Stands in for the trackers: frame ``i`` has the sequence's landmarks of frame ``i``."""

    def __init__(self, landmarks: npt.NDArray[np.float32]) -> None:
        self.landmarks = landmarks

    def reset(self) -> None:
        pass

    def __call__(self, frame: npt.NDArray[np.uint8], index: int) -> FrameTracks:
        points = self.landmarks[index]
        time = (index + 1) / MODEL_FPS
        if not np.isfinite(points).all():
            return FrameTracks(index, time, None)
        pose = PoseResult(1.0, points, np.zeros((33, 3), np.float32), Rect(0, 0, 1, 1))
        return FrameTracks(index, time, pose)


def run_on_pose(spec: AppSpec, activity: str, seed: int, jsonl: Path) -> tuple[list[dict], Summary]:
    """The app's pose variant through the real engine, on a synthetic sequence's landmarks."""
    sequence = generate(activity, seed)
    # Frames of the sequence's aspect: the landmarks are normalised to them.
    blank = np.zeros((HEIGHT // 8, WIDTH // 8, 3), np.uint8)
    source = ListSource([blank] * len(sequence.times))
    network = PoseSteps(ScriptedTracking(sequence.landmarks))
    app = App(spec.on_pose(), LABELS, Profile())
    summary, _ = Engine(source, network, app, [JsonlSink(jsonl)], title="test").run()
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(records) == len(sequence.times) // 4  # one per 0.25 s step
    assert [r["time"] for r in records] == [(k + 1) * 0.25 for k in range(len(records))]
    return records, summary


def test_fitness_on_pose_recognises_squats(tmp_path: Path) -> None:
    records, summary = run_on_pose(FITNESS, "Squats", 300, tmp_path / "fitness.jsonl")
    assert list(records[0]) == ["step", "time", "probs", "top", "met", "calories"]
    labels = ExerciseEngine().labels
    assert all(len(r["probs"]) == len(labels) == 13 for r in records)
    tops = [r["top"]["label"] for r in records]
    assert tops.count("Squats") > len(tops) / 2
    # probs are in ExerciseEngine.labels order: the top's probability is its entry.
    for r in records:
        assert r["probs"][labels.index(r["top"]["label"])] == pytest.approx(r["top"]["prob"])
    # The summary's time per class comes from the same `top`.
    assert summary.time_per_class["Squats"] == pytest.approx(0.25 * tops.count("Squats"))
    assert summary.calories == records[-1]["calories"] > 0


def test_calories_on_pose_go_through_the_calorie_accumulator(tmp_path: Path) -> None:
    records, _ = run_on_pose(CALORIES, "Jumping Jacks", 301, tmp_path / "calories.jsonl")
    assert list(records[0]) == ["step", "time", "met", "met_corrected", "calories"]
    p = Profile()
    expected = CalorieAccumulator(
        weight=p.weight, height=p.height, age=p.age, gender=None, smoothing=12.0,
        recovery_factor=60.0,
    )  # fmt: skip
    for r in records:
        update = expected.update(r["met"], 0.25)
        assert r["calories"] == pytest.approx(update.total_calories, abs=1e-9)
        assert r["met_corrected"] == pytest.approx(update.met_corrected, abs=1e-9)
    assert max(r["met"] for r in records) > 3.0  # jumping jacks: vigorous
    assert records[-1]["calories"] > records[0]["calories"]


@pytest.mark.parametrize(("activity", "seed"), [("Squats", 300), ("Pushups", 302)])
def test_reps_on_pose_counts_each_exercise(tmp_path: Path, activity: str, seed: int) -> None:
    records, summary = run_on_pose(REPS, activity, seed, tmp_path / "reps.jsonl")
    assert list(records[0]) == ["step", "time", "probs", "top", "counts"]
    counts = records[-1]["counts"]
    assert counts[activity] == generate(activity, seed).reps
    assert sum(counts.values()) == counts[activity]  # nothing else counted
    assert summary.counts == counts


def test_pose_variants_keep_the_apps_outputs() -> None:
    for spec in (FITNESS, CALORIES, REPS):
        pose = spec.on_pose()
        assert pose.name == spec.name and pose.heads == () and pose.exercises
        assert pose.frames_per_step == 4  # JSONL per 0.25 s step, as on SenseKit
        assert pose.display_lines == spec.display_lines + 1  # the visibility note
    result = App(FITNESS.on_pose(), LABELS).postprocessors
    assert [type(p).__name__ for p in result] == ["Exercises", "CalorieTracker"]
    assert APPS["fitness"] is FITNESS  # the spec itself is not changed


# -- model choice ------------------------------------------------------------------------------


def test_sensekit_when_its_weights_are_found_else_pose(
    standin_weights_dir: Path, tmp_path: Path
) -> None:
    for app in ("fitness", "calories", "reps"):
        found = resolve(Request(app=app, weights_dir=standin_weights_dir))
        assert isinstance(found, SenseKitModel) and not runs_on_pose(found)
        missing = resolve(Request(app=app, weights_dir=tmp_path))
        assert isinstance(missing, LandmarkTracking) and runs_on_pose(missing)
        assert missing.reason == NOT_FOUND
        assert not missing.hands  # the exercise engine takes the body only
        chosen = resolve(Request(app=app, model="pose", weights_dir=standin_weights_dir))
        assert runs_on_pose(chosen)
        assert chosen.reason == "model: pose (built-in) - --model pose"
    # `rtnet pose` is the trackers' own app, not an exercise app.
    assert not runs_on_pose(resolve(Request(app="pose")))


def test_pose_model_is_not_offered_where_it_is_not_built(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--version lite is for the SenseKit models only"):
        resolve(Request(app="fitness", model="pose", version="lite"))


def test_engine_hands_a_frames_network_each_step_s_frames() -> None:
    seen: list[tuple[int, ...]] = []

    class Steps:
        takes_frames = True

        def reset(self) -> None:
            pass

        def __call__(self, frames: list[np.ndarray], indices: tuple[int, ...]) -> object:
            assert [int(f[0, 0, 0]) for f in frames] == list(indices)
            seen.append(indices)
            return PoseSteps(ScriptedTracking(np.full((10, 33, 5), np.nan, np.float32)))(
                frames, indices
            )

    frames = [np.full((6, 8, 3), i, np.uint8) for i in range(10)]
    Engine(ListSource(frames), Steps(), App(REPS.on_pose(), LABELS), [], title="t").run()
    assert seen == [(0, 1, 2, 3), (4, 5, 6, 7)]  # the 2 trailing frames fill no step


# -- the real command --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def person_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracking tests' astronaut clip (as in test_pose_cli), at 16 fps."""
    image = cv2.imread(str(FIXTURES / "astronaut.png"))
    assert image is not None
    frames: list[np.ndarray] = load_make_reference().clip(image)
    return write_lossless(tmp_path_factory.mktemp("pose") / "person.mkv", frames, MODEL_FPS)


@pytest.mark.slow
def test_fitness_on_pose_runs_end_to_end(person_video: Path, tmp_path: Path) -> None:
    jsonl, out = tmp_path / "fitness.jsonl", tmp_path / "fitness.mkv"
    result = run_rtnet(
        "fitness", "--model", "pose", "--path-in", str(person_video), "--no-window",
        "--jsonl", str(jsonl), "--path-out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "model: pose (built-in) - --model pose" in result.stderr.splitlines()[0]
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert records and all(
        list(r) == ["step", "time", "probs", "top", "met", "calories"] for r in records
    )
    assert all(len(r["probs"]) == 13 and r["met"] > 0 for r in records)
    # The skeleton is drawn on each frame the person was tracked in, not on the empty frames
    # (test_pose_cli checks the same drawing frame by frame against the tracker's JSONL).
    frames, written = read_video(person_video), read_video(out)
    assert len(written) == len(frames)
    top = written[0].shape[0] - frames[0].shape[0]  # the overlay's text band
    pairs = zip(written, frames, strict=True)
    drawn = [np.abs(w[top:].astype(int) - f).max() > 100 for w, f in pairs]
    empty = [f.max() == f.min() for f in frames]
    assert any(empty) and not any(d for d, e in zip(drawn, empty, strict=True) if e)
    assert sum(drawn) >= len(frames) - sum(empty) - 2  # re-detection may miss a frame or two
