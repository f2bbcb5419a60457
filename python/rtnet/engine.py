"""The streaming engine: source -> FrameRing -> network -> post-processors -> sinks.

Three threads, so capture and preprocessing overlap inference:
- the capture thread reads ticks from the source and pushes them into the FrameRing (the Rust
  preprocessing releases the GIL); every 4 ticks it hands the ring's clip to the worker (a
  network that ``takes_frames``, the landmark trackers, gets the step's raw frames instead);
- the worker thread runs the network on clips, in order;
- the calling thread post-processes results and feeds the sinks (OpenCV windows must live there).

A file is processed deterministically: no clip is ever dropped and each frame is shown with the
result of its own step. A live source (camera, ``--realtime``) shows frames as they come with the
latest result, and drops whole clips when the worker is still busy.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rtnet import FrameRing
from rtnet.apps import App, StepResult, Summary
from rtnet.overlay import Overlay, OverlayView
from rtnet.resample import Tick
from rtnet.sinks.base import RunStats, Sink
from rtnet.sources import Source

# A clip network (rtnet.network.Network) or one that ``takes_frames``: with 1-frame steps
# ``network(frame, index)`` (rtnet.tracking.Tracking), with longer steps
# ``network(frames, indices)``, the step's raw frames (rtnet.tracking.PoseSteps).
NetworkFn = Callable[..., Any]

POLL_S = 0.05  # how often blocked threads look at the stop flag
# A stop request ends the run (outputs closed) within a second: the capture thread notices the
# stop within a poll or a frame; the worker may be inside one network step, which cannot be cut
# short, so it is waited for only after the outputs are closed (a daemon thread still inside
# native code when the interpreter exits would abort the process).
CAPTURE_JOIN_S = 0.5
WORKER_JOIN_S = 10.0


@dataclass(frozen=True)
class _Frame:
    tick: Tick


@dataclass(frozen=True)
class _Dropped:
    total: int  # clips dropped so far


@dataclass(frozen=True)
class _Clip:
    step: int
    frames: Any  # the ring's clip; a frame, or a list of frames, for a ``takes_frames`` network
    indices: tuple[int, ...] = ()  # the frames' tick indices (``takes_frames``, longer steps)


@dataclass(frozen=True)
class _Output:
    step: int
    outputs: Any  # per head for a clip network; what a per-frame network returns
    seconds: float


@dataclass(frozen=True)
class _Failed:
    error: BaseException


class _End:
    """Marks the end of a queue's stream."""


_END = _End()
_Event = _Frame | _Dropped | _Output | _Failed | _End


def _put(q: queue.Queue[Any], item: object, stop: threading.Event) -> bool:
    """Blocking put that gives up when the run stops (the consumer may be gone)."""
    while not stop.is_set():
        try:
            q.put(item, timeout=POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _replace_waiting(clips: queue.Queue[_Clip | _End], clip: _Clip) -> bool:
    """Live sources: queue ``clip``, dropping the clip still waiting for the worker (if any),
    so the worker always gets the freshest frames. True when a clip was dropped."""
    try:
        clips.put_nowait(clip)
        return False
    except queue.Full:
        pass
    try:
        clips.get_nowait()
        dropped = True
    except queue.Empty:  # the worker took it meanwhile
        dropped = False
    clips.put_nowait(clip)  # only this thread puts, so there is room now
    return dropped


class _Rate:
    """Events per second, smoothed over roughly the last second."""

    def __init__(self) -> None:
        self.value = 0.0
        self._last: float | None = None

    def add(self, now: float, events: float = 1.0) -> float:
        if self._last is not None and now > self._last:
            rate = events / (now - self._last)
            weight = min(1.0, (now - self._last) / 1.0)
            self.value = rate if self.value == 0.0 else self.value + weight * (rate - self.value)
        self._last = now
        return self.value


class Engine:
    """Runs one app on one source into any number of sinks."""

    def __init__(
        self,
        source: Source,
        network: NetworkFn,
        app: App,
        sinks: Sequence[Sink],
        *,
        title: str,
        overlay: Overlay | None = None,
    ) -> None:
        self.source = source
        self.network = network
        self.app = app
        self.sinks = list(sinks)
        self.title = title
        self.overlay = overlay or Overlay(app.spec.display_lines)
        self.frame_sinks = [sink for sink in self.sinks if sink.wants_frames]
        self.takes_frames = bool(getattr(network, "takes_frames", False))
        self.step_frames = app.spec.frames_per_step
        if self.step_frames == 1 and not self.takes_frames:
            raise ValueError(
                f"app {app.spec.name} steps 1 frame at a time, but its network takes clips"
            )

    def run(self, stop: threading.Event | None = None) -> tuple[Summary, RunStats]:
        """Process the whole source (or until ``stop`` is set or a sink asks to stop).

        Sinks are always closed, also on errors, so outputs are complete and playable.
        """
        stop = stop or threading.Event()
        halt = threading.Event()  # ends the helper threads; ``stop`` is the caller's request
        live = self.source.live
        size = getattr(self.source, "frame_size", None)
        stats = RunStats(
            source=self.source.description,
            live=live,
            camera=self.source.is_camera,
            total_ticks=self.source.total_ticks,
            # What frame sinks will get: known before the first frame, so a video writer can
            # be checked before anything is written.
            frame_size=self.overlay.output_size(*size) if size is not None else None,
        )
        summary = Summary.for_app(self.app.spec)
        # Live: one clip may wait while the worker is busy; a newer one replaces it.
        clips: queue.Queue[_Clip | _End] = queue.Queue(maxsize=1 if live else 2)
        events: queue.Queue[_Event] = queue.Queue(maxsize=64)
        reset_network = getattr(self.network, "reset", None)
        if reset_network is not None:
            reset_network()
        self.app.reset()
        threads = [
            threading.Thread(
                target=self._capture, args=(halt, clips, events), name="rtnet-capture", daemon=True
            ),
            threading.Thread(
                target=self._infer, args=(halt, clips, events), name="rtnet-infer", daemon=True
            ),
        ]
        started = time.monotonic()
        state = _DisplayState(self, stats)
        error: BaseException | None = None
        try:
            for sink in self.sinks:
                sink.start(stats)
            for thread in threads:
                thread.start()
            completed = self._consume(events, stop, stats, summary, state)
            stats.interrupted = not completed
            # Trailing frames that did not fill a clip, or (when stopped) frames read whose step
            # never came: the video holds every frame the summary counts.
            state.flush()
        except KeyboardInterrupt:
            stats.interrupted = True  # no signal handler installed: still end cleanly
        except BaseException as exc:
            stats.interrupted = True  # the history keeps the run as cut short
            error = exc
        finally:
            halt.set()
            capture, worker = threads
            if capture.is_alive():
                capture.join(CAPTURE_JOIN_S)
            if not capture.is_alive():  # never release a capture another thread still reads
                self.source.close()
            stats.wall_s = time.monotonic() - started
            for sink in self.sinks:
                try:
                    sink.close(summary, stats)
                except Exception as exc:  # close the others anyway; report the first problem
                    error = error or exc
            if worker.is_alive():
                worker.join(WORKER_JOIN_S)
        if error is not None:
            raise error
        return summary, stats

    def _consume(
        self,
        events: queue.Queue[_Event],
        stop: threading.Event,
        stats: RunStats,
        summary: Summary,
        state: _DisplayState,
    ) -> bool:
        """Feed the sinks until the stream ends (True) or the user stops the run (False)."""
        input_rate = _Rate()
        while True:
            if stop.is_set() or any(sink.stop_requested() for sink in self.sinks):
                return False
            try:
                item = events.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if isinstance(item, _End):
                return True
            if isinstance(item, _Failed):
                raise item.error
            if isinstance(item, _Dropped):
                stats.dropped_clips = item.total
            elif isinstance(item, _Frame):
                stats.ticks = item.tick.index + 1
                stats.input_fps = input_rate.add(time.monotonic())
                state.frame(item.tick)
            else:
                stats.steps += 1
                if item.seconds > 0:
                    stats.model_fps = _smoothed(stats.model_fps, self.step_frames / item.seconds)
                result = self.app.process(item.step, item.outputs)
                summary.add(result)
                for sink in self.sinks:
                    sink.on_step(result, stats)
                state.result(result)

    def _capture(
        self,
        halt: threading.Event,
        clips: queue.Queue[_Clip | _End],
        events: queue.Queue[_Event],
    ) -> None:
        # The ring writes frames in the channel order the network takes (RGB for a bare callable).
        ring = None
        if not self.takes_frames:
            ring = FrameRing(self.step_frames, channels=getattr(self.network, "channels", "rgb"))
        step = self.step_frames
        raw: list[Tick] = []  # the step's frames so far, for a ``takes_frames`` network
        dropped = 0
        try:
            for tick in self.source.ticks(halt):
                if halt.is_set():
                    return
                if ring is not None:
                    ring.push(tick.frame)
                elif step > 1:
                    raw.append(tick)
                # The frame goes out before its clip, so the consumer always has a step's
                # frames when the step's result arrives.
                if not _put(events, _Frame(tick), halt):
                    return
                if (tick.index + 1) % step:
                    continue
                if ring is not None:
                    clip = _Clip(tick.index // step, ring.clip())
                elif step > 1:
                    frames = [t.frame for t in raw]
                    clip = _Clip(tick.index // step, frames, tuple(t.index for t in raw))
                    raw = []
                else:
                    clip = _Clip(tick.index, tick.frame)
                if self.source.live:
                    if _replace_waiting(clips, clip):
                        dropped += 1  # inference is behind: a whole clip is skipped
                        if not _put(events, _Dropped(dropped), halt):
                            return
                elif not _put(clips, clip, halt):
                    return
        except BaseException as exc:
            _put(events, _Failed(exc), halt)
        finally:
            _put(clips, _END, halt)

    def _infer(
        self,
        halt: threading.Event,
        clips: queue.Queue[_Clip | _End],
        events: queue.Queue[_Event],
    ) -> None:
        try:
            while not halt.is_set():
                try:
                    item = clips.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                if isinstance(item, _End):
                    break
                started = time.perf_counter()
                if self.takes_frames and self.step_frames > 1:
                    outputs = self.network(item.frames, item.indices)
                elif self.takes_frames:
                    outputs = self.network(item.frames, item.step)
                else:
                    outputs = self.network(item.frames)
                output = _Output(item.step, outputs, time.perf_counter() - started)
                if not _put(events, output, halt):
                    return
        except BaseException as exc:
            _put(events, _Failed(exc), halt)
        _put(events, _END, halt)


def _smoothed(previous: float, value: float, weight: float = 0.2) -> float:
    return value if previous == 0.0 else previous + weight * (value - previous)


class _DisplayState:
    """Which result each frame is drawn with, and handing drawn frames to the frame sinks."""

    def __init__(self, engine: Engine, stats: RunStats) -> None:
        self.engine = engine
        self.stats = stats
        self.latest: StepResult | None = None
        # Files: frames wait for their own step's result, so the output is deterministic.
        self.pending: deque[Tick] = deque()
        self.live = engine.source.live

    def frame(self, tick: Tick) -> None:
        if not self.engine.frame_sinks:
            return
        if self.live:
            self._draw(tick)
        else:
            self.pending.append(tick)

    def result(self, result: StepResult) -> None:
        self.latest = result
        end = self.engine.step_frames * (result.step + 1)
        while self.pending and self.pending[0].index < end:
            self._draw(self.pending.popleft())

    def flush(self) -> None:
        while self.pending:
            self._draw(self.pending.popleft())

    def _draw(self, tick: Tick) -> None:
        result = self.latest
        lines: list[str] = []
        banner = None
        image = tick.frame
        if result is not None:
            lines = ([result.headline] if result.headline is not None else []) + result.lines
            banner = result.banner
            if result.annotate is not None:
                image = image.copy()  # the source's frame stays as it was read
                result.annotate(image, tick.index)
        view = OverlayView(
            title=self.engine.title, lines=lines, status=self.stats.status_line(), banner=banner
        )
        frame = self.engine.overlay.render(image, view)
        for sink in self.engine.frame_sinks:
            sink.on_frame(frame, self.stats)
