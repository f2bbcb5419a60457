"""The built-in trackers and the fitness app on a real video of real people (the ``real_video``
fixture: Sports2D's demo clip, 1768x994 at 30 fps, fetched from PyPI).

What happens in it, from its frames: a man on a box does two jumping jacks (0.2-2.5 s; he is small
and against the light, and the tracker finds him only from 0.25 s), walks along the box into the
sun's glare, turns and jumps down (5.3 s); a woman walks past below from right to left (1.4-6.8
s); the man lands and runs off bent forward (6.8-7.7 s). `rtnet pose` tracks one person: the man
until he jumps, then the woman, then the man again.

`rtnet pose` is compared with MediaPipe 0.10.14's own pipeline on the same 16 fps frames
(tests/fixtures/tracking/make_real_reference.py wrote its landmarks). The runs use --threads 1:
on the 2 shared cores, PyTorch's two threads spin against each other and a run takes 5x longer.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from engine_helpers import read_video, run_rtnet
from rtnet.exercises import load_definitions
from rtnet.resample import MODEL_FPS, STEP_FRAMES
from rtnet.sources import Capture, VideoFileSource

pytestmark = pytest.mark.slow

REFERENCE = Path(__file__).resolve().parent / "fixtures" / "tracking" / "real_reference.npz"
TICKS = 123  # 230 frames at 30 fps: 7.67 s of stream, ticks at 0, 1/16, ... 7.625 s
FAST = ("--no-window", "--quiet", "--no-history", "--threads", "1")


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def reference(real_video: Path) -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        found = {key: data[key] for key in data.files}
    # The reference was made on this very file.
    assert str(found["video_sha256"]) == hashlib.sha256(real_video.read_bytes()).hexdigest()
    return found


@pytest.fixture(scope="module")
def tracked(real_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`rtnet pose --jsonl` on the real video (the body: hands play no part here)."""
    jsonl = tmp_path_factory.mktemp("real") / "pose.jsonl"
    result = run_rtnet(
        "pose", "--path-in", str(real_video), "--no-hands", "--jsonl", str(jsonl), *FAST
    )
    assert result.returncode == 0, result.stderr
    return jsonl


class NumberedFrames:
    """The video's capture, each frame replaced by a 1x1 image holding its index: which frame
    the source hands on for each tick, with the container's real timestamps."""

    def __init__(self, path: str) -> None:
        self.capture = cv2.VideoCapture(path)
        self.index = 0

    def isOpened(self) -> bool:
        return bool(self.capture.isOpened())

    def read(self) -> tuple[bool, np.ndarray | None]:
        ok, _ = self.capture.read()
        if not ok:
            return False, None
        self.index += 1
        return True, np.array([[[(self.index - 1) % 256, (self.index - 1) // 256, 0]]], np.uint8)

    def get(self, prop: int) -> float:
        return float(self.capture.get(prop))

    def release(self) -> None:
        self.capture.release()


def test_the_reference_saw_the_frames_rtnet_tracks(
    real_video: Path, reference: dict[str, np.ndarray]
) -> None:
    """MediaPipe was fed the source frames rtnet's 16 fps resampling picks, in order."""

    def numbered(path: str) -> Capture:
        return NumberedFrames(path)

    source = VideoFileSource(real_video, open_capture=numbered)
    picked = [
        int(tick.frame[0, 0, 0]) + 256 * int(tick.frame[0, 0, 1])
        for tick in source.ticks(threading.Event())
    ]
    source.close()
    assert source.total_ticks == TICKS
    assert picked == reference["source_frames"].tolist()
    assert picked[:6] == [0, 1, 3, 5, 7, 9]  # 30 fps into 16: mostly every other frame


def test_pose_matches_mediapipe_on_a_real_video(
    tracked: Path, reference: dict[str, np.ndarray]
) -> None:
    """Measured: MediaPipe and rtnet both find a pose on 113 of 123 frames and agree on whether
    there is one on 117; median error over visible landmarks 2.99 px, 0.0017 of the frame width
    (0.0030 of its height). Where they differ, the person is hard: rtnet finds the small man
    against the light one frame later (its landmark flag 0.476 against the 0.5 threshold), loses
    him as he jumps off the box 5 frames before MediaPipe does and re-detects the woman (4 frames
    of another person), and keeps him for 3 frames as he lands where MediaPipe loses him.
    Asserted: the issue's median <= 0.01 of the frame size, both find a pose on >= 85% of the
    frames and agree on >= 90%, and the per-frame median is within 0.01 on >= 80% of them."""
    lines = records(tracked)
    expected = reference["pose"]
    width, height = (int(v) for v in reference["size"])
    assert len(lines) == len(expected) == TICKS
    assert all(line["size"] == [width, height] for line in lines)

    errors, per_frame, agree, both = [], [], 0, 0
    for line, want in zip(lines, expected, strict=True):
        mine, theirs = line["pose"] is not None, bool(np.isfinite(want[0, 0]))
        agree += mine == theirs
        if not (mine and theirs):
            continue
        both += 1
        got = np.array(line["pose"]["landmarks"], dtype=np.float64)
        visible = want[:, 3] > 0.5
        pixels = np.hypot((got[:, 0] - want[:, 0]) * width, (got[:, 1] - want[:, 1]) * height)
        errors.append(pixels[visible])
        per_frame.append(float(np.median(pixels[visible])))
    median = float(np.median(np.concatenate(errors)))
    print(
        f"\nreal video: pose in both on {both}/{TICKS} frames, presence agrees on {agree}; "
        f"median error {median:.2f} px = {median / width:.4f} of the width"
    )
    assert median <= 0.01 * width
    assert both >= 0.85 * TICKS
    assert agree >= 0.9 * TICKS
    assert np.mean(np.array(per_frame) <= 0.01 * width) >= 0.8


@pytest.fixture(scope="module")
def fitness(
    real_video: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[dict[str, Any]], Path]:
    """`rtnet fitness --model pose` end to end on the real video: its JSONL and its video."""
    folder = tmp_path_factory.mktemp("fitness")
    jsonl, video = folder / "fitness.jsonl", folder / "fitness.mp4"
    result = run_rtnet(
        "fitness", "--model", "pose", "--path-in", str(real_video), "--jsonl", str(jsonl),
        "--path-out", str(video), *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return records(jsonl), video


def test_fitness_on_a_real_video_end_to_end(
    fitness: tuple[list[dict[str, Any]], Path], real_video: Path
) -> None:
    """One JSONL object per 0.25 s step, a playable video of every 16 fps frame, and the man's
    jumping jacks recognised as the second one ends (measured: from 2.75 s to 4.25 s, while
    they are in the 3 s window). Their posture check (torso < 30 degrees) is on the picture:
    upright in it (within 2 degrees), his torso leans 40-50 degrees in depth by the landmarks'
    z, as the camera looks up at him; with z the jacks were claimed only 4 s in."""
    steps, video = fitness
    labels = [d.name for d in load_definitions()]
    assert [s["step"] for s in steps] == list(range(TICKS // STEP_FRAMES))
    assert [s["time"] for s in steps] == [(k + 1) * STEP_FRAMES / MODEL_FPS for k in range(30)]
    for step in steps:
        assert len(step["probs"]) == len(labels)
        assert sum(step["probs"]) == pytest.approx(1.0, abs=1e-5)
        assert step["top"]["label"] == labels[int(np.argmax(step["probs"]))]
        assert step["met"] >= 1.0
    calories = [s["calories"] for s in steps]
    assert calories == sorted(calories) and 0 < calories[-1] < 1  # 7.5 s of light activity
    tops = [s["top"]["label"] for s in steps]
    assert steps[tops.index("Jumping Jacks")]["time"] <= 3.0  # the jacks end at 2.5 s
    assert tops.count("Doing nothing") >= len(steps) // 2

    frames = read_video(video)
    assert len(frames) == TICKS
    assert cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS) == MODEL_FPS
    source = cv2.VideoCapture(str(real_video))
    assert frames[0].shape[1] == source.get(cv2.CAP_PROP_FRAME_WIDTH)
    assert frames[0].shape[0] > source.get(cv2.CAP_PROP_FRAME_HEIGHT)  # the panel above


def test_reps_on_a_real_video(tracked: Path, tmp_path: Path) -> None:
    """The man does two jumping jacks; the first starts before the tracker finds him, so it
    counts one (measured: 1)."""
    jsonl = tmp_path / "reps.jsonl"
    result = run_rtnet("reps", "--landmarks-in", str(tracked), "--jsonl", str(jsonl), *FAST)
    assert result.returncode == 0, result.stderr
    counts = records(jsonl)[-1]["counts"]
    assert 1 <= counts["Jumping Jacks"] <= 2


def test_no_false_exercise_or_reps_on_a_real_video(
    fitness: tuple[list[dict[str, Any]], Path], tracked: Path, tmp_path: Path
) -> None:
    """Nobody does anything but jumping jacks: no other exercise may be claimed or counted (the
    issue: no false reps while standing, walking past or sitting).

    Failed before the engine made a rep one tracked person's: fitness said High Knees for
    1.25 s (steps 23-27) and reps counted 2 of them. Rep 1: the man's right thigh 40 degrees up
    for 2 frames as he walks along the box (tick 54, "right knee up"), then in the sun's glare
    his left leg's landmarks fly up to hip height (tick 73, "left knee up"; MediaPipe's own
    landmarks do the same there). Rep 2: the right leg's, one glare frame later (tick 74),
    completed 1.6 s later by a stride of the woman walking past, seen from the side (tick 99:
    left thigh 136 degrees from vertical, < 145) - a rep begun by one person and ended by
    another, the tracker having lost the man for one frame in between. Now a body found more
    than 1.5 torso lengths from where it was last seen (or after over 1 s) starts the phase
    machines and the evidence afresh, so rep 2 is never made; and a knee drive needs the knee
    bent (a leg raised straight, as in the glare, is none), so rep 1 is not either. On
    MediaPipe's own landmarks (which keep the man through his jump) the engine still counts a
    Burpee: his torso leaning 50-58 degrees in depth by the landmarks' z for 3 frames as he
    walks (its "plank"), then upright."""
    steps, _ = fitness
    allowed = {"No person visible", "Doing nothing", "Jumping Jacks"}
    assert {s["top"]["label"] for s in steps} <= allowed
    jsonl = tmp_path / "reps.jsonl"
    result = run_rtnet("reps", "--landmarks-in", str(tracked), "--jsonl", str(jsonl), *FAST)
    assert result.returncode == 0, result.stderr
    counts = records(jsonl)[-1]["counts"]
    assert {name: n for name, n in counts.items() if n and name != "Jumping Jacks"} == {}
