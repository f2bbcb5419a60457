"""`--landmarks-in FILE.jsonl`: the apps on landmarks `rtnet pose --jsonl` recorded, instead of
video. The outputs are those of the run on the video; bad files are one-line errors."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from engine_helpers import (
    read_video,
    rtnet_command,
    rtnet_env,
    run_rtnet,
    wait_for_lines,
    write_lossless,
)
from rtnet.apps import GESTURES, REPS, App
from rtnet.cli import main
from rtnet.engine import Engine
from rtnet.errors import SourceError
from rtnet.labels import load_labels
from rtnet.landmarks_in import LandmarksFile, RecordedTracking
from rtnet.resample import MODEL_FPS
from rtnet.sinks.jsonl import JsonlSink
from rtnet.tracking import FrameTracks, HandResult, PoseResult, PoseSteps, Rect
from rtnet.tracking.stream import as_recorded
from synthetic_gestures import HAND
from synthetic_gestures import generate as generate_gesture
from synthetic_pose import HEIGHT, WIDTH, generate
from test_engine import ListSource
from test_tracking import FIXTURES, load_make_reference

SIZE = (640, 480)


def _main(args: list[str]) -> int:
    """``rtnet ARGS`` in this process: its exit status (option errors exit from the parser)."""
    try:
        return main(args)
    except SystemExit as exit:
        return int(exit.code or 0)


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _frame(index: int, pose: bool = True, **extra: Any) -> dict[str, Any]:
    """A line as `rtnet pose` writes it: a standing figure (or no pose)."""
    points = [[0.5, 0.2 + 0.02 * i, -0.1, 0.99, 0.98] for i in range(33)]
    record = {
        "frame": index,
        "time": (index + 1) / MODEL_FPS,
        "pose": {"score": 0.99, "landmarks": points} if pose else None,
        "hands": [],
        "size": list(SIZE),
        "mirrored": False,
    }
    return record | extra


# -- the real commands on a real video ---------------------------------------------------------


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The astronaut clip (a person, gone for 3 frames, back; as in test_pose_cli), its pose
    recording, and fitness on the clip itself: JSONL and history."""
    folder = tmp_path_factory.mktemp("landmarks")
    image = cv2.imread(str(FIXTURES / "astronaut.png"))
    assert image is not None
    video = write_lossless(folder / "person.mkv", load_make_reference().clip(image), MODEL_FPS)
    pose, fitness = folder / "pose.jsonl", folder / "fitness.jsonl"
    env = rtnet_env() | {"RTNET_HISTORY": str(folder / "history.sqlite3")}
    for args in (
        # The hands tracker finds none in this clip (test_pose_cli): left out, it takes no time.
        ["pose", "--no-hands", "--path-in", str(video), "--jsonl", str(pose)],
        ["fitness", "--model", "pose", "--path-in", str(video), "--jsonl", str(fitness)],
    ):
        command = rtnet_command(*args, "--no-window", "--quiet")
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
        assert result.returncode == 0, result.stderr
    return {"video": video, "pose": pose, "fitness": fitness, "history": folder / "history.sqlite3"}


def _history(path: Path) -> list[dict[str, Any]]:
    result = run_rtnet("history", "--json", "--app", "fitness", "--history-db", str(path))
    assert result.returncode == 0, result.stderr
    sessions: list[dict[str, Any]] = json.loads(result.stdout)
    return sessions


@pytest.mark.slow
def test_pose_recording_records_the_frame_size(recorded: dict[str, Path]) -> None:
    records = _records(recorded["pose"])
    assert len(records) == 24
    assert all(list(r) == ["frame", "time", "pose", "hands", "size", "mirrored"] for r in records)
    assert all(r["size"] == list(SIZE) and r["mirrored"] is False for r in records)


@pytest.mark.slow
def test_fitness_on_the_recording_is_fitness_on_the_video(
    recorded: dict[str, Path], tmp_path: Path, private_history: Path
) -> None:
    jsonl = tmp_path / "fitness.jsonl"
    result = run_rtnet(
        "fitness", "--landmarks-in", str(recorded["pose"]), "--no-window", "--jsonl", str(jsonl),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    first = result.stderr.splitlines()[0]
    assert "model: pose (built-in) - landmarks recorded in pose.jsonl (--landmarks-in)" in first
    assert jsonl.read_text() == recorded["fitness"].read_text()
    # The history keeps the same session, but for where it came from and when.
    (on_video,), (replayed,) = _history(recorded["history"]), _history(private_history)
    assert replayed["source"] == "pose.jsonl"
    for session in (on_video, replayed):
        for key in ("id", "source", "started_at", "ended_at"):
            del session[key]
    assert replayed == on_video


@pytest.mark.slow
def test_pose_on_its_own_recording_gives_it_back(recorded: dict[str, Path], tmp_path: Path) -> None:
    jsonl, video = tmp_path / "again.jsonl", tmp_path / "again.mkv"
    result = run_rtnet(
        "pose", "--landmarks-in", str(recorded["pose"]), "--no-window", "--quiet",
        "--jsonl", str(jsonl), "--path-out", str(video),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert jsonl.read_text() == recorded["pose"].read_text()
    # The video: the skeleton on a blank frame of the recorded size, where there was a pose.
    written = read_video(video)
    records = _records(jsonl)
    assert len(written) == len(records)
    assert all(w.shape[1] == SIZE[0] for w in written)
    top = written[0].shape[0] - SIZE[1]  # the overlay's text band
    drawn = [w[top:].max() > 100 for w in written]
    assert drawn == [r["pose"] is not None for r in records]


@pytest.mark.slow
def test_frame_size_option_for_recordings_without_one(
    recorded: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = [{k: v for k, v in r.items() if k != "size"} for r in _records(recorded["pose"])]
    path = _write(tmp_path / "other-tool.jsonl", bare)
    args = ("fitness", "--landmarks-in", str(path), "--no-window", "--quiet")
    assert _main(list(args)) == 2
    error = capsys.readouterr().err
    assert re.fullmatch(
        r"rtnet: error: .*other-tool\.jsonl: no frame size recorded .* WxH\n", error
    )
    jsonl = tmp_path / "fitness.jsonl"
    result = run_rtnet(*args, "--frame-size", "640x480", "--jsonl", str(jsonl))
    assert result.returncode == 0, result.stderr
    assert jsonl.read_text() == recorded["fitness"].read_text()


# -- the same on scripted landmarks, with reps -------------------------------------------------


class ScriptedTracking:
    """Stands in for the trackers (as in test_pose_apps): frame ``i`` has the sequence's
    landmarks of frame ``i``, as `Tracking` hands them on (as recorded)."""

    def __init__(self, landmarks: npt.NDArray[np.float32], size: tuple[int, int]) -> None:
        self.landmarks = landmarks
        self.size = size

    def reset(self) -> None:
        pass

    def __call__(self, frame: npt.NDArray[np.uint8], index: int) -> FrameTracks:
        points = self.landmarks[index]
        time = (index + 1) / MODEL_FPS
        if not np.isfinite(points).all():
            return FrameTracks(index, time, None, [], self.size)
        nowhere = np.zeros((33, 3), np.float32)
        pose = PoseResult(1.0, as_recorded(points), nowhere, Rect(0, 0, 1, 1))
        return FrameTracks(index, time, pose, [], self.size)


def test_reps_on_a_recording_count_as_on_the_frames(tmp_path: Path) -> None:
    sequence = generate("Squats", 300)
    size = (WIDTH // 8, HEIGHT // 8)
    frames = [np.zeros((size[1], size[0], 3), np.uint8)] * len(sequence.times)
    tracking = ScriptedTracking(sequence.landmarks, size)
    recording = _write(
        tmp_path / "pose.jsonl", [tracking(f, i).to_json() for i, f in enumerate(frames)]
    )
    live, replayed = tmp_path / "frames.jsonl", tmp_path / "replayed.jsonl"
    Engine(
        ListSource(frames), PoseSteps(tracking), App(REPS.on_pose(), load_labels()),
        [JsonlSink(live)], title="t",
    ).run()  # fmt: skip
    source = LandmarksFile(recording)
    assert source.total_ticks == len(frames) and source.frame_size == size
    network = PoseSteps(RecordedTracking(source, hands=False))
    summary, _ = Engine(
        source, network, App(REPS.on_pose(), load_labels()), [JsonlSink(replayed)], title="t"
    ).run()
    assert replayed.read_text() == live.read_text()
    assert summary.counts is not None and summary.counts["Squats"] == sequence.reps > 0


class ScriptedHands:
    """Stands in for the trackers (as in test_gestures_pose) on a gesture sequence: pose and
    hands as `Tracking` hands them on (as recorded), on frames of ``size``."""

    def __init__(self, landmarks: npt.NDArray[np.float32], size: tuple[int, int], mirrored: bool):
        self.landmarks, self.size, self.mirrored = landmarks, size, mirrored

    def reset(self) -> None:
        pass

    def __call__(self, frame: npt.NDArray[np.uint8], index: int) -> FrameTracks:
        points = self.landmarks[index]
        hands = []
        for k, label in enumerate(("Left", "Right")):
            hand = points[33 + k * HAND : 33 + (k + 1) * HAND, :3]
            if np.isfinite(hand).all():
                world = np.zeros((HAND, 3), np.float32)
                hand = as_recorded(hand)
                hands.append(HandResult(label, 0.9, 0.9, hand, world, Rect(0, 0, 1, 1)))
        pose = None
        if np.isfinite(points[:33]).all():
            world = np.zeros((33, 3), np.float32)
            pose = PoseResult(1.0, as_recorded(points[:33]), world, Rect(0, 0, 1, 1))
        time = (index + 1) / MODEL_FPS
        return FrameTracks(index, time, pose, hands, self.size, self.mirrored)


def test_gestures_on_a_mirrored_recording_fire_as_on_the_frames(tmp_path: Path) -> None:
    # A selfie-camera recording: the replay takes the mirroring from the file.
    seed = next(s for s in range(300, 400) if generate_gesture("Swiping left", s).mirrored)
    sequence = generate_gesture("Swiping left", seed)
    size = (WIDTH // 8, HEIGHT // 8)
    frames = [np.zeros((size[1], size[0], 3), np.uint8)] * len(sequence.times)
    tracking = ScriptedHands(sequence.landmarks, size, mirrored=True)
    recording = _write(
        tmp_path / "pose.jsonl", [tracking(f, i).to_json() for i, f in enumerate(frames)]
    )
    live, replayed = tmp_path / "frames.jsonl", tmp_path / "replayed.jsonl"
    network = PoseSteps(tracking, hands=True, mirrored=True)
    app = App(GESTURES.on_pose(), load_labels())
    Engine(ListSource(frames), network, app, [JsonlSink(live)], title="t").run()
    args = ["gestures", "--landmarks-in", str(recording), "--jsonl", str(replayed)]
    assert _main([*args, "--no-window", "--quiet", "--no-history"]) == 0
    assert replayed.read_text() == live.read_text()
    assert "Swiping left" in [r["fired"] for r in _records(replayed)]


# -- timing --------------------------------------------------------------------------------------


def _ticks(source: LandmarksFile) -> list[tuple[int, int]]:
    """(tick, recorded frame) for each tick, through ``RecordedTracking``."""
    tracking = RecordedTracking(source, hands=True)
    out = []
    for tick in source.ticks(threading.Event()):
        tracks = tracking(tick.frame, tick.index)
        assert tracks.frame == tick.index and tracks.time == (tick.index + 1) / MODEL_FPS
        assert tracks.pose is not None
        out.append((tick.index, round(tracks.pose.score * 100)))
    return out


def test_other_frame_rates_are_resampled_to_16_fps(tmp_path: Path) -> None:
    # 32 fps from another tool, starting at 10 s: every other frame (score = its number).
    records = [_frame(i, time=10 + i / 32) for i in range(16)]
    for i, r in enumerate(records):
        r["pose"]["score"] = i / 100
    source = LandmarksFile(_write(tmp_path / "32fps.jsonl", records))
    assert source.total_ticks == 8
    assert _ticks(source) == [(k, 2 * k) for k in range(8)]
    # 8 fps: each frame twice.
    records = [_frame(i, time=i / 8) for i in range(4)]
    for i, r in enumerate(records):
        r["pose"]["score"] = i / 100
    assert _ticks(LandmarksFile(_write(tmp_path / "8fps.jsonl", records))) == [
        (k, k // 2) for k in range(8)
    ]


def test_tracks_of_dropped_ticks_are_forgotten(tmp_path: Path) -> None:
    source = LandmarksFile(_write(tmp_path / "pose.jsonl", [_frame(i) for i in range(12)]))
    stop = threading.Event()
    ticks = source.ticks(stop)
    for _ in range(8):
        next(ticks)
    assert source.take(7).frame == 7  # ticks 0-6 were dropped (a live run behind)
    assert source._waiting == {}
    stop.set()
    assert list(ticks) == []


def test_without_hands_the_recorded_hands_are_left_out(tmp_path: Path) -> None:
    hand = {"handedness": "Left", "score": 0.9, "landmarks": [[0.1, 0.2, 0.0]] * 21}
    source = LandmarksFile(_write(tmp_path / "pose.jsonl", [_frame(0, hands=[hand])]))
    for tick in source.ticks(threading.Event()):
        assert RecordedTracking(source, hands=False)(tick.frame, tick.index).hands == []
    for tick in source.ticks(threading.Event()):
        (got,) = RecordedTracking(source, hands=True)(tick.frame, tick.index).hands
        assert got.handedness == "Left" and got.landmarks.shape == (21, 3)


# -- bad input -----------------------------------------------------------------------------------


def _points(count: int, width: int) -> list[list[float]]:
    return [[0.5] * width for _ in range(count)]


BAD_LINES: list[tuple[str, str, int]] = [
    # (the second line, what the error says about it, its line number)
    ("{not json", r"not JSON \(Expecting property name", 2),
    ("[1, 2]", "not a JSON object", 2),
    (json.dumps(_frame(1) | {"pose": {"score": 1, "landmarks": _points(32, 5)}}),
     "pose has 32 landmarks, expected 33", 2),
    (json.dumps(_frame(1) | {"pose": {"score": 1, "landmarks": _points(33, 3)}}),
     "pose landmark 0 is not a list of 5 numbers", 2),
    (json.dumps(_frame(1)).replace("0.99,", "NaN,", 1), "NaN is not a finite number", 2),
    (json.dumps(_frame(1)).replace("0.99,", "1e999,", 1), "not a finite number", 2),
    (json.dumps(_frame(1)).replace("0.99,", '"0.99",', 1), 'is "0.99", not a number', 2),
    (json.dumps(_frame(1, time=0.01)), r"time 0\.01 goes back before 0\.0625 \(line 1\)", 2),
    (json.dumps(_frame(1, time=1000.0)), "more than 600 s", 2),
    (json.dumps(_frame(1, size=[320, 240])), "frame size 320x240 differs from 640x480", 2),
    (json.dumps(_frame(1, size=[99999, 240])), "each side must be 1 to 8192 pixels", 2),
    (json.dumps(_frame(1, mirrored=True)), '"mirrored" true differs from the lines before', 2),
    (json.dumps(_frame(1, mirrored="yes")), '"mirrored" "yes" is not true or false', 2),
    (json.dumps({"frame": 1, "time": 0.125}), r'no "pose"', 2),
    (json.dumps(_frame(1, hands=[{"handedness": "Up", "score": 1, "landmarks": []}])),
     r'hand 1: "handedness" \'Up\'', 2),
    ("\xc3(", "not UTF-8 text", 2),
]  # fmt: skip


@pytest.mark.parametrize(("line", "message", "number"), BAD_LINES)
def test_bad_lines_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str, number: int
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes((json.dumps(_frame(0)) + "\n" + line + "\n").encode("latin-1"))
    assert _main(["fitness", "--landmarks-in", str(path), "--no-window", "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"rtnet: error: {path} line {number}: ")
    assert re.search(message, error), error


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "landmarks file not found: .*missing.jsonl"),
        (b"", r"empty\.jsonl line 1: the landmarks file is empty"),
        (b"\n  \n", r"empty\.jsonl line 1: no frames, only blank lines"),
    ],
)
def test_missing_and_empty_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    path = tmp_path / ("missing.jsonl" if content is None else "empty.jsonl")
    if content is not None:
        path.write_bytes(content)
    assert _main(["pose", "--landmarks-in", str(path), "--no-window", "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and re.match(f"rtnet: error: .*{message}", error), error


def test_a_bad_line_is_reported_before_any_output_is_written(tmp_path: Path) -> None:
    path = _write(tmp_path / "pose.jsonl", [_frame(i) for i in range(40)])
    path.write_text(path.read_text() + "oops\n")
    jsonl = tmp_path / "out.jsonl"
    args = ["reps", "--landmarks-in", str(path), "--no-window", "--quiet", "--jsonl", str(jsonl)]
    assert _main(args) == 2
    assert not jsonl.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--path-in", "x.mkv"], "argument --path-in: not allowed with argument --landmarks-in"),
        (["--camera-id", "1"], "argument --camera-id: not allowed with argument --landmarks-in"),
        (
            ["--model", "efficientnet"],
            "--landmarks-in replays pose landmarks: --model efficientnet",
        ),
        (["--mirror"], r"--mirror: .*pose\.jsonl records unmirrored frames"),
        (["--frame-size", "640by480"], "--frame-size: '640by480' is not WIDTHxHEIGHT"),
        (["--frame-size", "320x240"], "--frame-size 320x240 differs from the size .* 640x480"),
        (["--jsonl", "{recording}"], "--jsonl .* would overwrite the input landmarks"),
    ],
)
def test_options_that_do_not_go_with_landmarks_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    path = _write(tmp_path / "pose.jsonl", [_frame(i) for i in range(8)])
    args = [a.format(recording=path) for a in args]
    command = ["fitness", "--landmarks-in", str(path), "--no-window", "--quiet", *args]
    assert _main(command) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and re.match(f"rtnet: error: .*{message}", error), error


def test_frame_size_needs_landmarks_in(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["pose", "--path-in", "x.mkv", "--frame-size", "640x480", "--no-window"]) == 2
    assert "--frame-size is for --landmarks-in" in capsys.readouterr().err


def test_mirroring_is_as_recorded_else_as_the_options_say(tmp_path: Path) -> None:
    def replayed(records: list[Any], mirror: bool | None) -> bool | None:
        source = LandmarksFile(_write(tmp_path / "m.jsonl", records), mirror=mirror)
        tick = next(iter(source.ticks(threading.Event())))
        tracks = RecordedTracking(source, hands=True)(tick.frame, tick.index)
        assert tracks.mirrored == source.mirrored
        return tracks.mirrored

    camera = [_frame(0, mirrored=True)]
    assert replayed(camera, None) is True and replayed(camera, True) is True
    other_tool = [{k: v for k, v in _frame(0).items() if k != "mirrored"}]
    assert replayed(other_tool, None) is False  # as for a file
    assert replayed(other_tool, True) is True


def test_library_callers_get_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="line 1: not a JSON object"):
        LandmarksFile(_write(tmp_path / "x.jsonl", [3]))
    with pytest.raises(SourceError, match="--frame-size 0x1: each side must be 1 to 8192"):
        LandmarksFile(_write(tmp_path / "y.jsonl", [_frame(0)]), frame_size=(0, 1))


# -- stopping ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_ends_a_replay_with_complete_outputs(tmp_path: Path) -> None:
    # 60 s of recording replayed at its pace (--realtime): the signal comes long before its end.
    path = _write(tmp_path / "pose.jsonl", [_frame(i, pose=i % 7 > 0) for i in range(960)])
    jsonl = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        rtnet_command(
            "reps", "--landmarks-in", str(path), "--realtime", "--no-window",
            "--jsonl", str(jsonl),
        ),
        env=rtnet_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_lines(jsonl, 2, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr and "summary" in stderr
    records = _records(jsonl)  # whole lines only
    assert 2 <= len(records) < 240
    steps = [r["step"] for r in records]  # paced like a camera: a late clip may be dropped
    assert steps == sorted(set(steps))
