"""End to end through the CLI, in-process: goldens on video.mkv, resampled files, outputs.

The network dominates the cost (about 0.25 s per efficientnet step here), so each run is shared
by several tests through module-scoped fixtures.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine_helpers import read_video, write_lossless
from rtnet.apps import FITNESS, GESTURES, AppSpec
from rtnet.cli import main
from rtnet.overlay import Overlay

pytestmark = pytest.mark.slow  # every test reads the output of whole app runs

GOLDEN_PROFILE = ["--weight", "65", "--height", "170", "--age", "30", "--gender", "female"]

RunApp = Callable[..., list[dict]]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def run_app(workdir: Path, standin_weights_dir: Path) -> RunApp:
    """Runs `rtnet APP --path-in VIDEO --no-window --quiet --jsonl ...`; returns the records."""

    def run(app: str, video: Path, *extra: str, name: str | None = None) -> list[dict]:
        out = workdir / f"{name or app}.jsonl"
        code = main(
            [
                app,
                "--path-in",
                str(video),
                "--no-window",
                "--quiet",
                "--jsonl",
                str(out),
                "--weights-dir",
                str(standin_weights_dir),
                "--precision",  # the goldens are fp32's; auto may pick bf16 on another CPU
                "fp32",
                *extra,
            ]
        )
        assert code == 0
        text = out.read_text()
        assert text.endswith("\n")
        return [json.loads(line) for line in text.splitlines()]

    return run


@pytest.fixture(scope="module")
def golden(reference_dir: Path) -> dict[str, np.ndarray]:
    return dict(np.load(reference_dir / "pipeline.npz"))


@pytest.fixture(scope="module")
def labels(reference_dir: Path) -> dict:
    return json.loads((reference_dir / "labels.json").read_text())


@pytest.fixture(scope="module")
def video_frames(reference_dir: Path) -> list[np.ndarray]:
    return read_video(reference_dir / "video.mkv")


@pytest.fixture(scope="module")
def gestures_run(run_app: RunApp, reference_dir: Path, workdir: Path) -> list[dict]:
    return run_app(
        "gestures", reference_dir / "video.mkv", "--path-out", str(workdir / "gestures.mkv")
    )


@pytest.fixture(scope="module")
def fitness_run(run_app: RunApp, reference_dir: Path, workdir: Path) -> list[dict]:
    return run_app(
        "fitness",
        reference_dir / "video.mkv",
        *GOLDEN_PROFILE,
        "--path-out",
        str(workdir / "fitness.mp4"),
    )


def test_gestures_golden(gestures_run: list[dict], golden: dict, labels: dict) -> None:
    assert [r["step"] for r in gestures_run] == list(range(16))
    assert [r["time"] for r in gestures_run] == [0.25 * (k + 1) for k in range(16)]
    probs = np.array([r["probs"] for r in gestures_run])
    np.testing.assert_allclose(probs, golden["gestures_probs"], rtol=0, atol=1e-4)
    top1 = [labels["gestures"].index(r["top"]["label"]) for r in gestures_run]
    assert top1 == golden["gestures_top1"].tolist()
    assert all(set(r) == {"step", "time", "probs", "top", "fired"} for r in gestures_run)


def test_gestures_fire_per_labels_thresholds(gestures_run: list[dict], labels: dict) -> None:
    thresholds = labels["gesture_event_thresholds"]
    fired = [(r["step"], r["fired"]) for r in gestures_run if r["fired"]]
    assert all(label in thresholds for _, label in fired)
    # Whatever fired, nothing fires again within the 2 s (8 steps) it is shown.
    steps = [step for step, _ in fired]
    assert all(b - a >= 8 for a, b in itertools.pairwise(steps))


def test_fitness_golden(fitness_run: list[dict], golden: dict, labels: dict) -> None:
    probs = np.array([r["probs"] for r in fitness_run])
    np.testing.assert_allclose(probs, golden["fitness_probs"], rtol=0, atol=1e-4)
    top1 = [labels["fitness"].index(r["top"]["label"]) for r in fitness_run]
    assert top1 == golden["fitness_top1"].tolist()
    met = np.array([r["met"] for r in fitness_run])
    np.testing.assert_allclose(met, golden["fitness_met"], rtol=0, atol=1e-4)
    calories = np.array([r["calories"] for r in fitness_run])
    np.testing.assert_allclose(calories, golden["fitness_calories"], rtol=0, atol=1e-6)
    assert list(fitness_run[0]) == ["step", "time", "probs", "top", "met", "calories"]


@pytest.mark.parametrize(
    ("run", "spec", "name"),
    [("gestures_run", GESTURES, "gestures.mkv"), ("fitness_run", FITNESS, "fitness.mp4")],
)
def test_path_out_reads_back(
    request: pytest.FixtureRequest,
    workdir: Path,
    video_frames: list[np.ndarray],
    run: str,
    spec: AppSpec,
    name: str,
) -> None:
    request.getfixturevalue(run)
    frames = read_video(workdir / name)
    overlay = Overlay(spec.display_lines)
    assert len(frames) == 64
    assert frames[0].shape == (480 + overlay.border_height(640), 640, 3)
    capture = cv2.VideoCapture(str(workdir / name))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(16.0)
    capture.release()
    if name.endswith(".mkv"):  # lossless: the video area is the input frame, untouched
        border = overlay.border_height(640)
        untouched = [
            np.array_equal(f[border:], v) for f, v in zip(frames, video_frames, strict=True)
        ]
        banners = sum(not same for same in untouched)
        assert banners < 64  # only frames with a fired gesture's banner differ
        assert np.count_nonzero(frames[0][:border]) > 0  # the text border


def test_32fps_file_gives_the_same_jsonl(
    run_app: RunApp, gestures_run: list[dict], video_frames: list[np.ndarray], workdir: Path
) -> None:
    # Extra frames between the originals (inverted, so taking one would change everything).
    doubled = [frame for original in video_frames for frame in (original, 255 - original)]
    path = write_lossless(workdir / "fast32.mkv", doubled, 32)
    assert run_app("gestures", path, name="fast32") == gestures_run


def test_12fps_file_repeats_frames(
    run_app: RunApp, video_frames: list[np.ndarray], workdir: Path
) -> None:
    slow = write_lossless(workdir / "slow12.mkv", video_frames[:48], 12)
    # What 16 fps resampling must make of it: tick k shows frame floor(k * 12 / 16).
    repeated = [video_frames[k * 12 // 16] for k in range(64)]
    assert [k * 12 // 16 for k in range(8)] == [0, 0, 1, 2, 3, 3, 4, 5]
    expected = write_lossless(workdir / "repeated16.mkv", repeated, 16)
    records = run_app("reps", slow, name="slow12")
    assert len(records) == 16
    assert records == run_app("reps", expected, name="repeated16")
    assert list(records[0]) == ["step", "time", "probs", "top", "counts"]


def test_calories_to_stdout(
    reference_dir: Path, standin_weights_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "calories",
            "--path-in",
            str(reference_dir / "video.mkv"),
            "--no-window",
            "--quiet",
            "--jsonl",
            "-",
            "--weights-dir",
            str(standin_weights_dir),
            "--weight",
            "80",
            "--gender",
            "male",
        ]
    )
    assert code == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 16
    assert list(records[0]) == ["step", "time", "met", "met_corrected", "calories"]  # no classes
    calories = [r["calories"] for r in records]
    assert calories == sorted(calories) and calories[-1] > 0


def test_terminal_summary(
    reference_dir: Path,
    standin_weights_dir: Path,
    capsys: pytest.CaptureFixture[str],
    workdir: Path,
) -> None:
    code = main(
        [
            "fitness",
            "--path-in",
            str(reference_dir / "video.mkv"),
            "--no-window",
            "--weights-dir",
            str(standin_weights_dir),
            "--title",
            "Morning workout",
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "Morning workout: summary" in err
    assert "calories" in err and "kcal" in err
    assert "0:04.00 of video" in err
    assert "fitness: mobilenet pro" in err  # the model choice is logged
