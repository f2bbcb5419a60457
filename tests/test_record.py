"""`rtnet record`: a countdown, then a 16 fps clip into DATASET/videos_<split>/<label>/.

The camera is stood in by a video file behind the same Source interface (a 32 fps file, so the
16 fps resampling is exercised too)."""

from __future__ import annotations

import contextlib
import io
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine_helpers import read_video, run_rtnet, write_lossless
from rtnet.cli import main
from rtnet.errors import ConfigError, SourceError
from rtnet.overlay import BANNER_BACKGROUND
from rtnet.record import RecordOptions, record
from rtnet.sinks.base import RunStats, Sink
from rtnet.sources import VideoFileSource
from rtnet.training.dataset import ClipOrigin, origin_file, read_origin

FPS = 32


def numbered_frames(count: int, size: tuple[int, int] = (160, 120)) -> list[np.ndarray]:
    """Frame i shows its number as its grey level (i * 3), readable back through mp4."""
    width, height = size
    return [np.full((height, width, 3), min(3 * i, 255), np.uint8) for i in range(count)]


@pytest.fixture
def source_video(tmp_path: Path) -> Path:
    return write_lossless(tmp_path / "source.mkv", numbered_frames(3 * FPS), fps=FPS)  # 3 s


class CollectingSink(Sink):
    """Stands in for the window: keeps the annotated frames, may ask to stop (like q)."""

    wants_frames = True

    def __init__(self, stop_after: int | None = None) -> None:
        self.frames: list[np.ndarray] = []
        self.stop_after = stop_after
        self.started = self.closed = False

    def start(self, stats: RunStats) -> None:
        self.started = True

    def on_frame(self, frame: np.ndarray, stats: RunStats) -> None:
        self.frames.append(frame)

    def stop_requested(self) -> bool:
        return self.stop_after is not None and len(self.frames) >= self.stop_after

    def close(self, summary: object, stats: RunStats) -> None:
        self.closed = True


def _banner_shown(frame: np.ndarray, source_height: int) -> bool:
    """The countdown banner: a dark box in the middle of the video area."""
    video = frame[frame.shape[0] - source_height :]
    centre = video[
        video.shape[0] // 3 : 2 * video.shape[0] // 3, video.shape[1] // 3 : -video.shape[1] // 3
    ]
    return bool(np.mean(np.all(centre == BANNER_BACKGROUND, axis=-1)) > 0.2)


def test_countdown_then_a_16_fps_clip(source_video: Path, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    sink = CollectingSink()
    options = RecordOptions(dataset, "wave", "valid", seconds=1.5, countdown=1.0)
    result = record(VideoFileSource(source_video), options, [sink])
    assert result is not None and result.complete
    assert result.path == dataset / "videos_valid" / "wave" / "wave_001.mp4"
    assert (result.frames, result.seconds) == (24, 1.5)
    clip = read_video(result.path)
    assert len(clip) == 24
    assert cv2.VideoCapture(str(result.path)).get(cv2.CAP_PROP_FPS) == pytest.approx(16)
    # 16 fps from 32: every other source frame, starting after the 1 s (16 ticks) countdown.
    levels = [float(frame.mean()) / 3 for frame in clip]
    np.testing.assert_allclose(levels, [2 * (16 + i) for i in range(24)], atol=1.5)
    # The window showed the countdown for 1 s, then the recording.
    assert sink.started and sink.closed and len(sink.frames) == 16 + 24
    assert all(_banner_shown(f, 120) for f in sink.frames[:16])
    assert not any(_banner_shown(f, 120) for f in sink.frames[16:])
    assert sink.frames[0].shape[0] > 120  # the title border
    # Recording again never overwrites: the next number.
    again = record(VideoFileSource(source_video), options)
    assert again is not None and again.path.name == "wave_002.mp4"
    assert not list(result.path.parent.glob(".*"))  # no partial files left


def test_a_short_source_keeps_what_it_gave(source_video: Path, tmp_path: Path) -> None:
    options = RecordOptions(tmp_path, "clap", seconds=10, countdown=2)
    result = record(VideoFileSource(source_video), options)
    assert result is not None and not result.complete
    assert result.frames == 16  # 3 s of source, 2 s of countdown
    assert len(read_video(result.path)) == 16


def test_stopping_early_leaves_nothing(source_video: Path, tmp_path: Path) -> None:
    options = RecordOptions(tmp_path, "clap", seconds=2, countdown=0.5)
    sink = CollectingSink(stop_after=20)  # like pressing q while recording
    assert record(VideoFileSource(source_video), options, [sink]) is None
    stop = threading.Event()
    stop.set()  # like Ctrl-C before the first frame
    assert record(VideoFileSource(source_video), options, stop=stop) is None
    assert list((tmp_path / "videos_train" / "clap").iterdir()) == []


def test_source_ending_during_the_countdown(source_video: Path, tmp_path: Path) -> None:
    options = RecordOptions(tmp_path, "clap", seconds=1, countdown=5)
    with pytest.raises(SourceError, match="ended during the 5 s countdown"):
        record(VideoFileSource(source_video), options)
    assert list((tmp_path / "videos_train" / "clap").iterdir()) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": "../escape"}, "invalid --label"),
        ({"label": ".hidden"}, "invalid --label"),
        ({"label": " "}, "invalid --label"),
        ({"split": "test"}, "invalid --split"),
        ({"seconds": 0.0}, "invalid --seconds"),
        ({"seconds": float("nan")}, "invalid --seconds"),
        ({"countdown": -1.0}, "invalid --countdown"),
        ({"start": -0.5}, "invalid --start"),
        ({"start": float("inf")}, "invalid --start"),
    ],
)
def test_invalid_options(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"dataset": tmp_path, "label": "wave", **changes}
    with pytest.raises(ConfigError, match=message):
        RecordOptions(**fields).validated()  # type: ignore[arg-type]


def test_record_command(source_video: Path, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(
            ["record", str(dataset), "--label", "jump", "--path-in", str(source_video),
             "--seconds", "1", "--no-window"]
        )  # fmt: skip
    assert status == 0, err.getvalue()
    clip = dataset / "videos_train" / "jump" / "jump_001.mp4"
    assert len(read_video(clip)) == 16  # a file records from its start: no countdown
    assert "Recorded 16 frames (1.0 s, 0.00-1.00 s of source.mkv)" in out.getvalue()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["record", str(dataset), "--label", "a/b", "--no-window"])
    assert status == 2 and "rtnet: error: invalid --label 'a/b'" in err.getvalue()


def test_start_takes_the_clip_from_later_in_the_file(source_video: Path, tmp_path: Path) -> None:
    """Repeated cuts from one file differ with --start, and each clip says which span it holds
    (the sidecar `rtnet train` checks for validation clips that repeat training clips)."""
    first = record(
        VideoFileSource(source_video), RecordOptions(tmp_path, "wave", seconds=1, countdown=0)
    )
    later = record(
        VideoFileSource(source_video),
        RecordOptions(tmp_path, "wave", seconds=1, countdown=0, start=1.5),
    )
    assert first is not None and later is not None
    assert first.path.read_bytes() != later.path.read_bytes()
    # 16 fps from 32: the clip starts at source frame 2 * 24 (1.5 s), tick-exact.
    levels = [float(frame.mean()) / 3 for frame in read_video(later.path)]
    np.testing.assert_allclose(levels, [2 * (24 + i) for i in range(16)], atol=1.5)
    source = str(source_video.resolve())
    assert read_origin(first.path) == first.origin == ClipOrigin(source, 0.0, 1.0)
    assert read_origin(later.path) == later.origin == ClipOrigin(source, 1.5, 2.5)
    assert origin_file(later.path).name == "wave_002.mp4.json"
    # A countdown on a file comes after the skipped part.
    counted = record(
        VideoFileSource(source_video),
        RecordOptions(tmp_path, "wave", seconds=0.5, countdown=0.5, start=1.0),
    )
    assert counted is not None and counted.origin == ClipOrigin(source, 1.5, 2.0)


def test_start_must_fall_inside_the_file(source_video: Path, tmp_path: Path) -> None:
    for start in (3.0, 60.0):  # the file is 3 s long
        with pytest.raises(ConfigError, match=rf"invalid --start {start:g}: source.mkv is 3.00 s"):
            record(VideoFileSource(source_video), RecordOptions(tmp_path, "x", start=start))
    assert not (tmp_path / "videos_train").exists()  # checked before anything is written


def test_record_command_start(source_video: Path, tmp_path: Path) -> None:
    dataset = tmp_path / "dataset"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(
            ["record", str(dataset), "--label", "jump", "--path-in", str(source_video),
             "--seconds", "1", "--start", "2", "--no-window"]
        )  # fmt: skip
    assert status == 0, err.getvalue()
    assert "Recorded 16 frames (1.0 s, 2.00-3.00 s of source.mkv)" in out.getvalue()
    # The same span again, into valid: warned right away (train warns again).
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(
            ["record", str(dataset), "--label", "jump", "--path-in", str(source_video),
             "--seconds", "1", "--start", "1.5", "--split", "valid", "--no-window"]
        )  # fmt: skip
    assert status == 0, err.getvalue()
    text = " ".join(out.getvalue().split())
    assert "warning: this clip overlaps videos_train/jump/jump_001.mp4" in text
    for args, message in (
        (["--start", "2"], "--start needs --path-in: a camera records from now"),
        (["--path-in", str(source_video), "--start", "-1"], "invalid --start -1"),
        (["--path-in", str(source_video), "--start", "5"], "invalid --start 5: source.mkv is"),
    ):
        err = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["record", str(dataset), "--label", "jump", "--no-window", *args])
        assert status == 2 and err.getvalue().startswith(f"rtnet: error: {message}"), args
        assert err.getvalue().count("\n") == 1


def test_record_in_a_window(xvfb_display: str, source_video: Path, tmp_path: Path) -> None:
    """The real window path under Xvfb: the run shows its frames and still writes the clip."""
    dataset = tmp_path / "dataset"
    result = run_rtnet(
        "record", str(dataset), "--label", "wave", "--path-in", str(source_video),
        "--seconds", "1", display=xvfb_display,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(read_video(dataset / "videos_train" / "wave" / "wave_001.mp4")) == 16
