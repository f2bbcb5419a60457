"""Every bad input ends `rtnet` with one line on stderr, exit status 2 and no traceback.

These run the real command (`python -m rtnet`) in a subprocess: the exit status and the exact
stderr are what a user sees.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine_helpers import assert_one_line_error
from engine_helpers import run_rtnet as rtnet


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory, reference_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    empty = root / "empty.mp4"
    empty.touch()
    noise = root / "noise.mkv"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 100_000, np.uint8).tobytes())
    cut = root / "cut.mkv"
    cut.write_bytes((reference_dir / "video.mkv").read_bytes()[:300])
    text = root / "notes.mp4"
    text.write_text("this is not a video\n")
    return {"empty": empty, "noise": noise, "cut": cut, "text": text, "dir": root}


@pytest.fixture(scope="module")
def video(reference_dir: Path) -> str:
    return str(reference_dir / "video.mkv")


RUN = ["--no-window", "--quiet"]


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("missing", r"video file not found: .*missing\.mp4"),
        ("empty", r"video file .*empty\.mp4 is empty"),
        ("noise", r"noise\.mkv.*(not a video|corrupt)"),
        ("cut", r"cut\.mkv.*(not a video|corrupt)"),
        ("text", r"notes\.mp4.*(not a video|corrupt)"),
        ("dir", r"is a directory"),
    ],
)
def test_bad_video(bad_files: dict[str, Path], name: str, pattern: str) -> None:
    path = bad_files.get(name, bad_files["dir"] / "missing.mp4")
    assert_one_line_error(rtnet("gestures", "--path-in", str(path), *RUN), pattern)


def test_camera_that_does_not_open_names_its_id(standin_weights_dir: Path) -> None:
    # With weights: without them the missing weights are reported first.
    weights = ["--weights-dir", str(standin_weights_dir)]
    result = rtnet("reps", "--camera-id", "97", *RUN, *weights)
    # The model's reason line comes first; the error is the last line.
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.splitlines()[-1]
    assert line.startswith("rtnet: error: camera 97 could not be opened")
    assert "--camera-id" in line  # says what to do about it


def test_window_without_a_display(standin_weights_dir: Path) -> None:
    weights = ["--weights-dir", str(standin_weights_dir)]
    result = rtnet("gestures", "--camera-id", "97", "--quiet", *weights)
    assert result.returncode == 2
    assert re.search(r"rtnet: error: no display .*--no-window", result.stderr.splitlines()[-1])


@pytest.fixture(scope="module")
def broken_weights(
    tmp_path_factory: pytest.TempPathFactory, standin_weights_dir: Path
) -> dict[str, Path]:
    """Weights folders with one thing wrong each (heads linked, backbones as needed)."""
    root = tmp_path_factory.mktemp("weights")
    effnet = "backbone/strided_inflated_efficientnet.ckpt"
    mobilenet = "backbone/strided_inflated_mobilenet.ckpt"

    def tree(name: str, backbone: bytes | Path | None) -> Path:
        folder = root / name
        for head in standin_weights_dir.rglob("*.ckpt"):
            rel = head.relative_to(standin_weights_dir)
            if rel.parts[0] != "backbone":
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                (folder / rel).symlink_to(head)
        if backbone is not None:
            (folder / "backbone").mkdir(parents=True)
            target = folder / effnet
            if isinstance(backbone, Path):
                target.symlink_to(backbone)
            else:
                target.write_bytes(backbone)
        return folder

    data = (standin_weights_dir / effnet).read_bytes()
    (root / "empty").mkdir()
    return {
        "empty": root / "empty",
        "missing_backbone": tree("missing_backbone", None),
        "truncated": tree("truncated", data[: len(data) // 3]),
        "mismatched": tree("mismatched", standin_weights_dir / mobilenet),
    }


@pytest.mark.parametrize(
    ("case", "pattern"),
    [
        ("empty", r"no SenseKit weights for gestures found.*original publisher"),
        (
            "missing_backbone",
            r"no SenseKit weights for gestures found.*strided_inflated_efficientnet",
        ),
        ("truncated", r"strided_inflated_efficientnet\.ckpt.*(truncated|corrupt)"),
        ("mismatched", r"strided_inflated_efficientnet\.ckpt.*mobilenet"),
    ],
)
def test_bad_weights(broken_weights: dict[str, Path], video: str, case: str, pattern: str) -> None:
    # --model: without it, gestures would run on the built-in pose models instead.
    weights = ["--model", "efficientnet", "--weights-dir", str(broken_weights[case])]
    result = rtnet("gestures", "--path-in", video, *RUN, *weights)
    assert_one_line_error(result, pattern)


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["--weight", "-5"], r"invalid --weight -5: expected 20 to 350 kg"),
        (["--weight", "abc"], r"--weight: invalid float value: 'abc'"),
        (["--height", "0"], r"invalid --height 0"),
        (["--age", "500"], r"invalid --age 500"),
        (["--gender", "robot"], r"--gender: invalid choice: 'robot'"),
    ],
)
def test_invalid_profile(video: str, args: list[str], pattern: str) -> None:
    assert_one_line_error(rtnet("fitness", "--path-in", video, *RUN, *args), pattern)


@pytest.mark.parametrize(
    ("option", "path", "pattern"),
    [
        ("--jsonl", "/nonexistent-rtnet/out.jsonl", r"folder /nonexistent-rtnet does not exist"),
        ("--path-out", "/nonexistent-rtnet/out.mp4", r"folder /nonexistent-rtnet does not exist"),
        ("--path-out", "/sys/out.mp4", r"folder /sys is not writable"),
        ("--jsonl", "/proc/out.jsonl", r"folder /proc is not writable"),
        ("--path-out", "out.webm", r"unknown extension '\.webm'"),
    ],
)
def test_bad_output_path(video: str, tmp_path: Path, option: str, path: str, pattern: str) -> None:
    # The weights folder is empty too: output paths are checked before any work starts.
    result = rtnet(
        "gestures",
        "--path-in",
        video,
        *RUN,
        option,
        path,
        "--weights-dir",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert_one_line_error(result, pattern)


def test_output_is_a_directory(video: str, tmp_path: Path) -> None:
    assert_one_line_error(
        rtnet("gestures", "--path-in", video, *RUN, "--jsonl", str(tmp_path)), "is a directory"
    )


def test_output_over_the_input(tmp_path: Path, reference_dir: Path) -> None:
    video = tmp_path / "mine.mkv"
    shutil.copyfile(reference_dir / "video.mkv", video)
    result = rtnet(
        "gestures", "--path-in", str(video), *RUN, "--path-out", "mine.mkv", cwd=tmp_path
    )
    assert_one_line_error(result, r"--path-out mine\.mkv would overwrite the input video")
    assert video.read_bytes() == (reference_dir / "video.mkv").read_bytes()


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ([], r"required: COMMAND"),
        (["dance"], r"invalid choice: 'dance'"),
        (["gestures", "--threads", "0", "--no-window"], r"--threads: 0 is out of range"),
        (["gestures", "--camera-id", "-1", "--no-window"], r"--camera-id: -1 is out of range"),
        # Once an OverflowError deep in torch/OpenCV ("internal error").
        (["gestures", "--threads", "99999999999"], r"--threads: 99999999999 is out of range"),
        (["gestures", "--camera-id", "99999999999"], r"--camera-id: 99999999999 is out of range"),
        (["train", "data", "--threads", "99999999999"], r"--threads: 99999999999 is out of range"),
        (["gestures", "--path-in", "a.mp4", "--camera-id", "1"], r"not allowed with argument"),
        (
            ["reps", "--model", "mobilenet", "--path-in", "VIDEO", "--no-window"],
            r"reps has no mobilenet model",
        ),
    ],
)
def test_bad_options(video: str, args: list[str], pattern: str) -> None:
    args = [video if a == "VIDEO" else a for a in args]
    assert_one_line_error(rtnet(*args), pattern)


def test_debug_shows_the_traceback(bad_files: dict[str, Path]) -> None:
    result = rtnet("gestures", "--path-in", str(bad_files["empty"]), *RUN, "--debug")
    assert result.returncode == 2
    assert "Traceback" in result.stderr and "SourceError" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("rtnet: error: ")


def test_weights_report_and_install(standin_weights_dir: Path, tmp_path: Path) -> None:
    report = rtnet("weights", "--weights-dir", str(standin_weights_dir))
    assert report.returncode == 0, report.stderr
    assert "found" in report.stdout and "efficientnet pro" in report.stdout
    source = tmp_path / "download"
    shutil.copytree(standin_weights_dir / "gesture_recognition", source / "gesture_recognition")
    installed = rtnet("weights", "install", str(source), "--dest", str(tmp_path / "user"))
    assert installed.returncode == 0, installed.stderr
    assert (tmp_path / "user/gesture_recognition/sien_logreg.ckpt").is_file()
    assert "installed" in installed.stdout
    (source / "gesture_recognition/sien_logreg.ckpt").write_bytes(b"not a checkpoint")
    bad = rtnet("weights", "install", str(source), "--dest", str(tmp_path / "other"))
    assert_one_line_error(bad, r"sien_logreg\.ckpt.*nothing installed")
    assert not (tmp_path / "other").exists()
