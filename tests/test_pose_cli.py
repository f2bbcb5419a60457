"""`rtnet pose`: the built-in trackers through the engine, the CLI, the JSONL and the video."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine_helpers import assert_one_line_error, read_video, run_rtnet, write_lossless
from rtnet.resample import MODEL_FPS
from rtnet.tracking import Tracking
from test_tracking import FIXTURES, load_make_reference

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def person_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """The tracking tests' astronaut clip (a person, gone for 3 frames, back), at 16 fps."""
    image = cv2.imread(str(FIXTURES / "astronaut.png"))
    assert image is not None
    frames: list[np.ndarray] = load_make_reference().clip(image)
    path = tmp_path_factory.mktemp("pose") / "person.mkv"
    return write_lossless(path, frames, MODEL_FPS), frames


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_pose_jsonl_is_the_trackers_output_frame_by_frame(
    person_video: tuple[Path, list[np.ndarray]], tmp_path: Path
) -> None:
    video, frames = person_video
    jsonl, out = tmp_path / "pose.jsonl", tmp_path / "pose.mkv"
    result = run_rtnet(
        "pose", "--path-in", str(video), "--no-window", "--jsonl", str(jsonl),
        "--path-out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "model: pose and hand landmarks (built in" in result.stderr.splitlines()[0]
    records = _records(jsonl)
    assert len(records) == len(frames)
    assert all(list(r) == ["frame", "time", "pose", "hands", "size", "mirrored"] for r in records)
    assert all(r["size"] == [frames[0].shape[1], frames[0].shape[0]] for r in records)
    assert [r["frame"] for r in records] == list(range(len(frames)))
    assert [r["time"] for r in records] == [(i + 1) / MODEL_FPS for i in range(len(frames))]
    # The same frames through the trackers in this process give the same objects.
    tracking = Tracking(hands=True, mirrored=False)
    expected = [tracking(frame, i).to_json() for i, frame in enumerate(frames)]
    assert records == expected
    with_pose = [r for r in records if r["pose"] is not None]
    assert len(with_pose) >= len(frames) - 4  # the 3 empty frames, and re-detection
    landmarks = with_pose[0]["pose"]["landmarks"]  # type: ignore[index]
    assert len(landmarks) == 33 and all(len(point) == 5 for point in landmarks)
    # The video holds every frame, with the skeleton drawn on the frames with a pose.
    written = read_video(out)
    assert len(written) == len(frames)
    top = written[0].shape[0] - frames[0].shape[0]  # the overlay's text band above the frame
    drawn = [
        np.abs(w[top:].astype(int) - f).max() > 100 for w, f in zip(written, frames, strict=True)
    ]
    assert drawn == [r["pose"] is not None for r in records]


def test_pose_without_hands(person_video: tuple[Path, list[np.ndarray]], tmp_path: Path) -> None:
    video, _ = person_video
    jsonl = tmp_path / "pose.jsonl"
    result = run_rtnet(
        "pose", "--path-in", str(video), "--no-window", "--quiet", "--no-hands",
        "--jsonl", str(jsonl),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = _records(jsonl)
    assert all(r["hands"] == [] for r in records)
    assert any(r["pose"] is not None for r in records)


def test_pose_takes_no_sensekit_options(person_video: tuple[Path, list[np.ndarray]]) -> None:
    video, _ = person_video
    assert_one_line_error(
        run_rtnet("pose", "--path-in", str(video), "--no-window", "--model", "mobilenet"),
        r"unrecognized arguments: --model mobilenet",
    )
    assert_one_line_error(
        run_rtnet("pose", "--path-in", str(video), "--no-window", "--precision", "bf16"),
        r"fp32 only",
    )


def test_a_corrupt_shipped_weight_file_is_one_error_line(
    person_video: tuple[Path, list[np.ndarray]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import shutil

    from rtnet.cli import main
    from rtnet.models import landmarks

    shipped = tmp_path / "weights"
    shutil.copytree(landmarks.WEIGHTS_DIR, shipped)
    (shipped / "pose_landmarks.safetensors").write_bytes(b"\x00" * 1000)  # a damaged install
    monkeypatch.setattr(landmarks, "WEIGHTS_DIR", shipped)
    video, _ = person_video
    status = main(["pose", "--path-in", str(video), "--no-window", "--quiet", "--no-history"])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    [line] = err.splitlines()
    assert line.startswith("rtnet: error: ") and "pose_landmarks.safetensors" in line
    assert "reinstall rtnet" in line
