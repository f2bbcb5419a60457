"""The streaming engine with a scripted network: ordering, drops, stopping, failures, sinks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest

from engine_helpers import read_video
from rtnet._core import preprocess
from rtnet.apps import GESTURES, REPS, App, StepResult, Summary
from rtnet.engine import Engine
from rtnet.errors import SourceError
from rtnet.labels import load_labels
from rtnet.resample import Tick
from rtnet.sinks.base import RunStats, Sink


class ListSource:
    """Ticks from a list of frames, optionally failing or pacing like a camera."""

    description = "test frames"
    is_camera = False

    def __init__(
        self,
        frames: list[np.ndarray],
        *,
        live: bool = False,
        fail_at: int | None = None,
        tick_s: float = 0.0,
    ) -> None:
        self.frames = frames
        self.live = live
        self.total_ticks = None if live else len(frames)
        self.fail_at = fail_at
        self.tick_s = tick_s
        self.closed = False
        self.frame_size: tuple[int, int] | None = None  # unknown, as for a bare list

    def ticks(self, stop: threading.Event) -> Iterator[Tick]:
        for i, frame in enumerate(self.frames):
            if stop.is_set():
                return
            if i == self.fail_at:
                raise SourceError("camera 0 stopped delivering frames")
            if self.tick_s:
                time.sleep(self.tick_s)
            yield Tick(i, i / 16, frame)

    def close(self) -> None:
        self.closed = True


class ScriptedNetwork:
    """Gesture probabilities that name the step: class ``step % 30`` has probability 0.9."""

    def __init__(self, delay_s: float = 0.0, fail_at: int | None = None) -> None:
        self.delay_s = delay_s
        self.fail_at = fail_at
        self.clips: list[np.ndarray] = []
        self.resets = 0

    def __call__(self, clip: np.ndarray) -> Mapping[str, np.ndarray]:
        if len(self.clips) == self.fail_at:
            raise RuntimeError("network exploded")
        self.clips.append(clip)
        if self.delay_s:
            time.sleep(self.delay_s)
        probs = np.full(30, 0.1 / 29, np.float32)
        probs[(len(self.clips) - 1) % 30] = 0.9
        return {"gestures": probs, "reps": np.array([1, 0, 0, 0, 0], np.float32)}

    def reset(self) -> None:
        self.resets += 1


class Recorder(Sink):
    """Records what a sink sees; optionally asks to stop after some frames."""

    wants_frames = True

    def __init__(self, stop_after_frames: int | None = None) -> None:
        self.started = False
        self.closed_with: tuple[Summary, RunStats] | None = None
        self.steps: list[StepResult] = []
        self.frames: list[np.ndarray] = []
        self.steps_when_drawn: list[int] = []
        self.stop_after_frames = stop_after_frames

    def start(self, stats: RunStats) -> None:
        self.started = True

    def on_frame(self, frame: np.ndarray, stats: RunStats) -> None:
        self.frames.append(frame)
        self.steps_when_drawn.append(stats.steps)

    def on_step(self, result: StepResult, stats: RunStats) -> None:
        self.steps.append(result)

    def stop_requested(self) -> bool:
        return self.stop_after_frames is not None and len(self.frames) >= self.stop_after_frames

    def close(self, summary: Summary, stats: RunStats) -> None:
        self.closed_with = (summary, stats)


def frames(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(n)
    return [rng.integers(0, 256, (60, 80, 3), dtype=np.uint8) for _ in range(n)]


def engine(source: ListSource, network: ScriptedNetwork, *sinks: Sink) -> Engine:
    return Engine(source, network, App(GESTURES, load_labels()), list(sinks), title="test")


def test_file_every_step_in_order_each_frame_with_its_own_result() -> None:
    source, network, sink = ListSource(frames(40)), ScriptedNetwork(), Recorder()
    summary, stats = engine(source, network, sink).run()
    assert [r.step for r in sink.steps] == list(range(10))
    assert [r.time for r in sink.steps] == [0.25 * (k + 1) for k in range(10)]
    assert stats.steps == 10 and stats.ticks == 40 and stats.dropped_clips == 0
    assert not stats.interrupted
    # Frames of step k are drawn right after step k's result: deterministic output.
    assert sink.steps_when_drawn == [k // 4 + 1 for k in range(40)]
    assert len(sink.frames) == 40
    assert sink.frames[0].shape[1] == 80 and sink.frames[0].shape[0] > 60  # border on top
    assert sink.started and sink.closed_with is not None
    assert sink.closed_with[0] is summary and summary.steps == 10
    assert summary.duration == 2.5
    assert source.closed and network.resets == 1


def test_clips_are_the_preprocessed_last_four_frames() -> None:
    video = frames(8)
    network = ScriptedNetwork()
    engine(ListSource(video), network).run()
    assert len(network.clips) == 2
    for step, clip in enumerate(network.clips):
        expected = np.stack([preprocess(f) for f in video[4 * step : 4 * step + 4]])
        assert clip.shape == (4, 3, 256, 256) and clip.dtype == np.float32
        assert np.array_equal(clip, expected)


def test_results_follow_the_network() -> None:
    sink = Recorder()
    engine(ListSource(frames(12)), ScriptedNetwork(), sink).run()
    labels = load_labels().gestures
    assert [r.record["top"]["label"] for r in sink.steps][:1] == [labels[0]]
    # Smoothing over 4 steps: 0.9 spread over 2 classes at step 1 -> 0.45 each.
    assert sink.steps[1].record["top"]["prob"] == pytest.approx((0.9 + 0.1 / 29) / 2)


def test_trailing_frames_are_drawn_with_the_last_result() -> None:
    sink = Recorder()
    _, stats = engine(ListSource(frames(10)), ScriptedNetwork(), sink).run()
    assert stats.steps == 2 and len(sink.frames) == 10
    assert sink.steps_when_drawn[-2:] == [2, 2]


def test_live_source_drops_whole_clips_when_inference_is_behind() -> None:
    # 16 clips arrive at 4 ms per frame while each inference takes 60 ms.
    source = ListSource(frames(64), live=True, tick_s=0.004)
    network, sink = ScriptedNetwork(delay_s=0.06), Recorder()
    _, stats = engine(source, network, sink).run()
    steps = [r.step for r in sink.steps]
    assert stats.dropped_clips > 0
    assert stats.steps + stats.dropped_clips == 16
    assert steps == sorted(set(steps)) and len(steps) == stats.steps
    assert steps[0] == 0 and steps[-1] == 15  # a waiting clip gives way to a fresher one
    assert len(network.clips) == stats.steps
    # Live frames are drawn as they come, not held back for their result.
    assert len(sink.frames) == 64 and sink.steps_when_drawn[0] == 0


def test_calories_dt_counts_dropped_time() -> None:
    from rtnet.apps import CALORIES, Profile

    app = App(CALORIES, load_labels(), Profile())
    met = {"met": np.array([6.0], np.float32)}
    a = app.process(0, met).record["calories"]
    # A jump from step 0 to step 4 accounts 1 s of exercise.
    app2 = App(CALORIES, load_labels(), Profile())
    app2.process(0, met)
    jumped = app2.process(4, met).record["calories"]
    steady = App(CALORIES, load_labels(), Profile())
    for k in range(5):
        last = steady.process(k, met).record["calories"]
    assert a == 0.0
    assert jumped > 0 and jumped != last
    # What the golden-checked accumulator gives for 0.25 s then the 1 s jump, with the app's
    # profile defaults: 0.0038319 kcal (five 0.25 s steps give 0.0042537).
    from rtnet import CalorieAccumulator

    reference = CalorieAccumulator(weight=70, height=170, age=30, smoothing=12, recovery_factor=60)
    reference.update(6.0, 0.25)
    assert jumped == pytest.approx(reference.update(6.0, 1.0).total_calories, rel=1e-12)


def test_stop_event_ends_cleanly() -> None:
    stop = threading.Event()
    sink = Recorder()

    class Stopper(Recorder):
        wants_frames = False

        def on_step(self, result: StepResult, stats: RunStats) -> None:
            if result.step == 2:
                stop.set()

    _, stats = engine(ListSource(frames(400)), ScriptedNetwork(), sink, Stopper()).run(stop)
    assert stats.interrupted
    assert 3 <= stats.steps < 100
    assert sink.closed_with is not None


def test_sink_asking_to_stop_ends_the_run() -> None:
    sink = Recorder(stop_after_frames=8)
    source = ListSource(frames(400))
    _, stats = engine(source, ScriptedNetwork(), sink).run()
    assert stats.interrupted and stats.steps < 100
    assert sink.closed_with is not None and source.closed


def test_network_failure_propagates_and_sinks_close() -> None:
    sink = Recorder()
    with pytest.raises(RuntimeError, match="network exploded"):
        engine(ListSource(frames(40)), ScriptedNetwork(fail_at=3), sink).run()
    assert sink.closed_with is not None
    assert [r.step for r in sink.steps] == [0, 1, 2]


def test_source_failure_propagates_and_sinks_close() -> None:
    sink = Recorder()
    source = ListSource(frames(40), fail_at=21)
    with pytest.raises(SourceError, match="stopped delivering"):
        engine(source, ScriptedNetwork(), sink).run()
    assert sink.closed_with is not None and source.closed


def test_sinks_without_frames_skip_rendering() -> None:
    class StepsOnly(Recorder):
        wants_frames = False

    sink = StepsOnly()
    eng = engine(ListSource(frames(8)), ScriptedNetwork(), sink)
    assert eng.frame_sinks == []
    eng.run()
    assert sink.frames == [] and len(sink.steps) == 2


def test_failing_sink_close_does_not_stop_the_others() -> None:
    class BadClose(Recorder):
        def close(self, summary: Summary, stats: RunStats) -> None:
            raise OSError("disk full")

    good = Recorder()
    with pytest.raises(OSError, match="disk full"):
        engine(ListSource(frames(8)), ScriptedNetwork(), BadClose(), good).run()
    assert good.closed_with is not None


def test_reps_app_runs_on_its_head() -> None:
    sink = Recorder()
    eng = Engine(
        ListSource(frames(8)), ScriptedNetwork(), App(REPS, load_labels()), [sink], title="reps"
    )
    eng.run()
    assert sink.steps[-1].record["counts"] == {"jumping_jacks": 0, "squats": 0}


def test_stop_closes_the_outputs_within_a_second_while_a_step_runs() -> None:
    """A stop request ends the run at once: the outputs are closed without waiting for the
    network step in flight (it is waited for afterwards, so the process exits cleanly)."""
    stop = threading.Event()
    stopped_at: list[float] = []
    closed_at: list[float] = []

    class SlowStep(ScriptedNetwork):
        def __call__(self, clip: np.ndarray) -> Mapping[str, np.ndarray]:
            if len(self.clips) == 1:  # inside the second step: the user stops the run
                stopped_at.append(time.monotonic())
                stop.set()
                time.sleep(3.0)
            return super().__call__(clip)

    class Timed(Recorder):
        def close(self, summary: Summary, stats: RunStats) -> None:
            closed_at.append(time.monotonic())
            super().close(summary, stats)

    network, sink = SlowStep(), Timed()
    _, stats = engine(ListSource(frames(400)), network, sink).run(stop)
    assert stats.interrupted
    assert closed_at[0] - stopped_at[0] < 1.0
    assert len(network.clips) == 2  # the step in flight finished before run() returned


def test_stopped_before_the_first_step_the_video_holds_the_frames_read(tmp_path: Path) -> None:
    """Ctrl-C before any step used to leave no video: frames of a file wait for their step's
    result, and were dropped when it never came."""
    from rtnet.sinks.videofile import VideoFileSink

    gate = threading.Event()

    class Blocked(ScriptedNetwork):
        def __call__(self, clip: np.ndarray) -> Mapping[str, np.ndarray]:
            gate.wait(30)
            return super().__call__(clip)

    class StopAfterFrames(Sink):
        def start(self, stats: RunStats) -> None:
            self.stats = stats

        def stop_requested(self) -> bool:
            return self.stats.ticks >= 6

        def close(self, summary: Summary, stats: RunStats) -> None:
            gate.set()

    source = ListSource(frames(40))
    video = VideoFileSink(tmp_path / "out.mp4")
    _, stats = engine(source, Blocked(), video, StopAfterFrames()).run()
    assert stats.interrupted and stats.steps == 0 and stats.ticks == 6
    assert len(read_video(tmp_path / "out.mp4")) == stats.ticks == video.frames_written


def test_an_encoder_refusing_the_frame_size_fails_before_any_output(tmp_path: Path) -> None:
    """A 1x1 video used to fail at its first frame, after a JSONL line was written."""
    from rtnet.errors import ConfigError
    from rtnet.sinks.jsonl import JsonlSink
    from rtnet.sinks.videofile import VideoFileSink

    tiny = [np.full((1, 1, 3), i, np.uint8) for i in range(16)]
    source = ListSource(tiny)
    source.frame_size = (1, 1)  # as a real source knows it once opened
    video, jsonl = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    sinks = [VideoFileSink(video), JsonlSink(jsonl)]  # the order the CLI uses
    with pytest.raises(ConfigError, match=r"mp4v encoder does not take 1x\d+ frames"):
        engine(source, ScriptedNetwork(), *sinks).run()
    assert not video.exists() and not jsonl.exists()
