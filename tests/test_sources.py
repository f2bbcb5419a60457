"""Sources and the 16 fps resampler: files by timestamps, cameras live, errors in one line."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from engine_helpers import read_video, write_lossless, write_slow_avi
from rtnet.errors import SourceError
from rtnet.resample import Tick, TickResampler, TimestampGapError
from rtnet.sources import CameraSource, VideoFileSource, open_source


def indexed_frames(n: int, size: tuple[int, int] = (48, 64)) -> list[np.ndarray]:
    """Frames that say which they are: frame i is filled with i (and a gradient)."""
    frames = []
    for i in range(n):
        frame = np.full((*size, 3), i % 256, np.uint8)
        frame[0, :, 1] = np.arange(size[1], dtype=np.uint8)
        frames.append(frame)
    return frames


def ids(ticks: Iterable[Tick]) -> list[int]:
    return [int(t.frame[1, 1, 0]) for t in ticks]


def run_resampler(fps: float, n_frames: int, *, round_ms: bool = True) -> list[Tick]:
    resampler = TickResampler()
    ticks: list[Tick] = []
    for i, frame in enumerate(indexed_frames(n_frames)):
        timestamp = i / fps
        if round_ms:  # containers keep milliseconds
            timestamp = round(timestamp * 1000) / 1000
        ticks += resampler.push(frame, timestamp)
    return ticks + list(resampler.finish_after_last(1 / fps))


class TestTickResampler:
    def test_16fps_keeps_every_frame(self) -> None:
        ticks = run_resampler(16, 64)
        assert ids(ticks) == list(range(64))
        assert [t.index for t in ticks] == list(range(64))
        assert ticks[5].time == 5 / 16

    def test_32fps_keeps_even_frames(self) -> None:
        assert ids(run_resampler(32, 128)) == list(range(0, 128, 2))

    def test_12fps_repeats_the_latest_frame(self) -> None:
        # Tick k at k/16 s takes frame floor(k * 12 / 16): 0 0 1 2 3 3 4 5 6 6 ...
        ticks = run_resampler(12, 48)
        assert ids(ticks) == [k * 12 // 16 for k in range(64)]
        assert ids(ticks)[:8] == [0, 0, 1, 2, 3, 3, 4, 5]

    def test_exact_timestamps_work_too(self) -> None:
        assert ids(run_resampler(16, 20, round_ms=False)) == list(range(20))
        assert ids(run_resampler(12, 12, round_ms=False)) == [k * 12 // 16 for k in range(16)]

    def test_ticks_settle_only_when_a_later_frame_arrives(self) -> None:
        resampler = TickResampler()
        frames = indexed_frames(3)
        assert list(resampler.push(frames[0], 10.0)) == []  # the origin: tick 0 may still change
        assert ids(resampler.push(frames[1], 10.0625)) == [0]
        assert ids(resampler.push(frames[2], 10.125)) == [1]
        assert ids(resampler.finish(0.25)) == [2, 2]  # the last frame lasts until 0.25 s
        assert resampler.ticks_emitted == 4

    def test_gaps_repeat_the_frame_before_them(self) -> None:
        resampler = TickResampler()
        frames = indexed_frames(2)
        list(resampler.push(frames[0], 0.0))
        assert ids(resampler.push(frames[1], 0.5)) == [0] * 8

    def test_backwards_timestamps_do_not_reorder(self) -> None:
        resampler = TickResampler()
        frames = indexed_frames(3)
        list(resampler.push(frames[0], 1.0))
        list(resampler.push(frames[1], 0.5))  # broken container
        ticks = list(resampler.push(frames[2], 1.125))
        assert ids(ticks) == [1, 1]

    def test_nothing_pushed_nothing_out(self) -> None:
        assert list(TickResampler().finish(10.0)) == []

    def test_rate_must_be_positive(self) -> None:
        with pytest.raises(ValueError):
            TickResampler(rate=0)


@pytest.fixture(scope="module")
def video_frames(reference_dir: Path) -> list[np.ndarray]:
    return read_video(reference_dir / "video.mkv")


def test_lossless_files_round_trip(tmp_path: Path, video_frames: list[np.ndarray]) -> None:
    path = write_lossless(tmp_path / "copy.mkv", video_frames[:8], 16)
    back = read_video(path)
    assert len(back) == 8
    assert all(np.array_equal(a, b) for a, b in zip(back, video_frames[:8], strict=True))


class TestVideoFileSource:
    def test_reference_video_gives_every_frame(
        self, reference_dir: Path, video_frames: list[np.ndarray]
    ) -> None:
        source = VideoFileSource(reference_dir / "video.mkv")
        assert not source.live
        assert source.total_ticks == 64
        assert source.frame_size == (640, 480)
        ticks = list(source.ticks(threading.Event()))
        source.close()
        assert len(ticks) == 64
        assert all(np.array_equal(t.frame, video_frames[t.index]) for t in ticks)

    def test_32fps_file_keeps_every_other_frame(self, tmp_path: Path) -> None:
        frames = indexed_frames(64)
        source = VideoFileSource(write_lossless(tmp_path / "f32.mkv", frames, 32))
        assert ids(list(source.ticks(threading.Event()))) == list(range(0, 64, 2))

    def test_12fps_file_repeats_frames(self, tmp_path: Path) -> None:
        frames = indexed_frames(24)
        source = VideoFileSource(write_lossless(tmp_path / "f12.mkv", frames, 12))
        assert source.total_ticks == 32
        assert ids(list(source.ticks(threading.Event()))) == [k * 12 // 16 for k in range(32)]

    def test_mirror_flips_left_right(
        self, reference_dir: Path, video_frames: list[np.ndarray]
    ) -> None:
        source = VideoFileSource(reference_dir / "video.mkv", mirror=True)
        first = next(iter(source.ticks(threading.Event())))
        source.close()
        assert np.array_equal(first.frame, video_frames[0][:, ::-1])

    def test_stop_ends_the_stream(self, reference_dir: Path) -> None:
        stop = threading.Event()
        source = VideoFileSource(reference_dir / "video.mkv")
        seen = 0
        for _ in source.ticks(stop):
            seen += 1
            if seen == 5:
                stop.set()
        assert seen == 5

    def test_realtime_paces_ticks(self, tmp_path: Path) -> None:
        import time

        source = VideoFileSource(
            write_lossless(tmp_path / "short.mkv", indexed_frames(8), 16), realtime=True
        )
        assert source.live
        started = time.monotonic()
        ticks = list(source.ticks(threading.Event()))
        assert len(ticks) == 8
        assert time.monotonic() - started >= 7 / 16 - 0.02

    def test_missing(self, tmp_path: Path) -> None:
        with pytest.raises(SourceError, match=r"video file not found: .*nope\.mp4"):
            VideoFileSource(tmp_path / "nope.mp4")

    def test_directory(self, tmp_path: Path) -> None:
        with pytest.raises(SourceError, match="is a directory"):
            VideoFileSource(tmp_path)

    def test_empty(self, tmp_path: Path) -> None:
        path = tmp_path / "empty.mp4"
        path.touch()
        with pytest.raises(SourceError, match=r"empty\.mp4 is empty"):
            VideoFileSource(path)

    def test_not_a_video(self, tmp_path: Path) -> None:
        path = tmp_path / "noise.mkv"
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes())
        with pytest.raises(SourceError, match=r"noise\.mkv"):
            VideoFileSource(path)

    def test_truncated_video(self, tmp_path: Path, reference_dir: Path) -> None:
        path = tmp_path / "cut.mkv"
        path.write_bytes((reference_dir / "video.mkv").read_bytes()[:300])
        with pytest.raises(SourceError, match=r"cut\.mkv"):
            VideoFileSource(path)


class FakeCamera:
    """Stands in for cv2.VideoCapture(camera_id): frames from a list, timestamps from a clock."""

    def __init__(self, frames: list[np.ndarray], clock: list[float], fps: float) -> None:
        self.frames = frames
        self.clock = clock
        self.fps = fps
        self.released = False

    def isOpened(self) -> bool:
        return bool(self.frames)

    def read(self) -> tuple[bool, np.ndarray | None]:
        if not self.frames:
            return False, None
        self.clock[0] += 1 / self.fps
        return True, self.frames.pop(0)

    def get(self, prop: int) -> float:
        return 0.0

    def release(self) -> None:
        self.released = True


class TestCameraSource:
    def test_live_ticks_from_the_clock(self) -> None:
        clock = [100.0]
        camera = FakeCamera(indexed_frames(30), clock, fps=30)
        source = CameraSource(
            3, mirror=False, open_capture=lambda _: camera, clock=lambda: clock[0]
        )
        assert source.live and source.total_ticks is None
        stop = threading.Event()
        ticks = []
        with pytest.raises(SourceError, match="camera 3 stopped delivering frames"):
            for tick in source.ticks(stop):
                ticks.append(tick)
        # 30 fps -> 16 fps: frame floor(k * 30 / 16) for each tick before the last frame.
        assert ids(ticks) == [int(k * 30 / 16 + 1e-9) for k in range(len(ticks))]
        assert len(ticks) >= 14
        source.close()
        assert camera.released

    def test_mirrored_by_default(self) -> None:
        clock = [0.0]
        frames = indexed_frames(4)
        camera = FakeCamera([f.copy() for f in frames], clock, fps=16)
        source = CameraSource(0, open_capture=lambda _: camera, clock=lambda: clock[0])
        first = next(iter(source.ticks(threading.Event())))
        assert np.array_equal(first.frame, frames[0][:, ::-1])

    def test_stop(self) -> None:
        clock = [0.0]
        camera = FakeCamera(indexed_frames(100), clock, fps=16)
        source = CameraSource(0, open_capture=lambda _: camera, clock=lambda: clock[0])
        stop = threading.Event()
        for tick in source.ticks(stop):
            if tick.index == 3:
                stop.set()
        assert len(camera.frames) > 80

    def test_camera_that_does_not_open_names_its_id(self) -> None:
        # No such device: OpenCV's own capture fails to open it.
        with pytest.raises(SourceError, match=r"^camera 97 could not be opened"):
            CameraSource(97)

    def test_camera_without_frames(self) -> None:
        class Silent(FakeCamera):
            def isOpened(self) -> bool:
                return True

        camera = Silent([], [0.0], 16)
        with pytest.raises(SourceError, match="camera 2 opened but delivers no frames"):
            CameraSource(2, open_capture=lambda _: camera)
        assert camera.released


def test_open_source_defaults(reference_dir: Path) -> None:
    source = open_source(
        path_in=reference_dir / "video.mkv", camera_id=0, mirror=None, realtime=False
    )
    assert isinstance(source, VideoFileSource) and not source.mirror and not source.live
    source.close()
    with pytest.raises(SourceError, match="camera 98"):
        open_source(path_in=None, camera_id=98, mirror=None, realtime=False)


class TestHostileInput:
    """A tiny file must not turn into unbounded work: lazy ticks, and absurd gaps refused."""

    def test_ticks_come_lazily_in_bounded_memory(self) -> None:
        import itertools
        import tracemalloc

        resampler = TickResampler(max_gap=float("inf"))
        frames = indexed_frames(2)
        list(resampler.push(frames[0], 0.0))
        tracemalloc.start()
        try:
            # A day without a frame: 1.4 million ticks, built at once they take ~200 MB.
            ticks = resampler.push(frames[1], 86_400.0)
            first = list(itertools.islice(ticks, 3))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert [t.index for t in first] == [0, 1, 2] and ids(first) == [0, 0, 0]
        assert peak < 1_000_000
        assert resampler.ticks_emitted == 86_400 * 16

    def test_a_gap_over_ten_minutes_is_refused(self) -> None:
        frames = indexed_frames(3)
        resampler = TickResampler()
        list(resampler.push(frames[0], 5.0))
        assert len(list(resampler.push(frames[1], 605.0))) == 600 * 16  # 10 minutes: allowed
        with pytest.raises(TimestampGapError, match=r"600\.001 s without a frame after 600 s"):
            resampler.push(frames[2], 1205.001)
        with pytest.raises(TimestampGapError):
            resampler.finish_after_last(1e9)  # a last frame lasting 30 years

    def test_a_timestamp_jump_in_a_file_is_one_clear_error(self, tmp_path: Path) -> None:
        """A 3-frame file whose last timestamp is 20 minutes on: 19,200 ticks of the same frame
        before; now one line, at once."""
        path = tmp_path / "clip.mp4"
        path.write_bytes(b"a file, decoded by the fake capture")
        capture = FakeFile(indexed_frames(3), [0.0, 62.5, 1_200_062.5], fps=16)
        source = VideoFileSource(path, open_capture=capture.open)
        with pytest.raises(
            SourceError, match=r"^video file .*clip\.mp4: 1200 s without a frame after 0\.0625 s"
        ):
            list(source.ticks(threading.Event()))

    def test_a_header_below_one_frame_per_second_is_refused(self, tmp_path: Path) -> None:
        """A real AVI whose stream header says 1e-9 fps (rate 1 over scale 10^9): each frame
        would last 30 years."""
        path = write_slow_avi(tmp_path / "slow.avi")
        with pytest.raises(SourceError, match=r"slow\.avi claims 1e-09 frames per second"):
            VideoFileSource(path)

    def test_a_fifo_is_not_a_directory(self, tmp_path: Path) -> None:
        fifo = tmp_path / "pipe.mp4"
        os.mkfifo(fifo)
        with pytest.raises(SourceError, match=r"pipe\.mp4 is not a regular file \(a FIFO\)"):
            VideoFileSource(fifo)

    def test_a_device_is_not_a_directory(self) -> None:
        with pytest.raises(SourceError, match=r"/dev/zero is not a regular file \(a device\)"):
            VideoFileSource("/dev/zero")


def test_total_ticks_is_what_the_file_gives(tmp_path: Path) -> None:
    """158 frames at 30 fps last 5.27 s: 85 ticks (the progress bar showed 85/84)."""
    source = VideoFileSource(write_lossless(tmp_path / "f30.mkv", indexed_frames(158), 30))
    ticks = list(source.ticks(threading.Event()))
    assert source.total_ticks == len(ticks) == 85


class FakeFile:
    """Stands in for cv2.VideoCapture(path): frames with the timestamps (ms) a container gave."""

    def __init__(self, frames: list[np.ndarray], msec: list[float], fps: float) -> None:
        self.frames, self.msec, self.fps = frames, msec, fps
        self.position = -1

    def open(self, path: str) -> FakeFile:
        return self

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.position + 1 >= len(self.frames):
            return False, None
        self.position += 1
        return True, self.frames[self.position]

    def get(self, prop: int) -> float:
        import cv2

        if prop == cv2.CAP_PROP_POS_MSEC:
            return self.msec[self.position]
        if prop == cv2.CAP_PROP_FPS:
            return self.fps
        if prop == cv2.CAP_PROP_FRAME_COUNT:
            return float(len(self.frames))
        return 0.0

    def release(self) -> None:
        pass
