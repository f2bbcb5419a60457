"""``rtnet eval``: a trained classifier scored on many videos in one process.

The videos come from a dataset's held-out split (``DATASET/videos_test/<class>/``), from a folder
of videos (the class is the sub-folder's name when there is one; files directly in the folder are
predicted but not scored), or are files named one by one.

Each video is read exactly as ``rtnet run`` reads it (resampled to 16 fps, the same FrameRing or,
for the pose backbone, the raw frames; temporal state from zero) and run through the same network
``rtnet run --classifier`` builds; only the work is arranged for throughput: all in one process
(the network is built once), a thread decodes the next videos while the network runs, and the
network may take several model steps per call (``Network.steps``, the same numbers as one call
per step).

A video's prediction is the class with the highest mean probability over its steps, leaving out
the first ones, before the head has seen a whole window (training's per-video accuracy counts the
same way).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rtnet.errors import ConfigError, SourceError
from rtnet.resample import MODEL_FPS, STEP_FRAMES
from rtnet.training.dataset import VIDEO_SUFFIXES, split_dir

if TYPE_CHECKING:
    from rtnet.network import Channels

TEST_SPLIT = "test"
# Model steps per network call. On a CPU one is fastest: with 8 (32 frames) lite0 takes 1.5-1.7x
# as long per frame (2 cores; larger activations fall out of cache and into fresh mmapped memory,
# see StreamingBackbone._fast_forward). A GPU may gain from more: --batch-steps.
DEFAULT_BATCH_STEPS = 1
PREFETCH_BATCHES = 4  # decoded batches waiting for the network, at most (3 MB per step)


class StepNetwork(Protocol):
    """What evaluation runs: a classifier's network, ``rtnet.network.BackboneNetwork`` (clips
    from the FrameRing) or ``rtnet.training.pose_backbone.LandmarkClassifierNetwork`` (raw
    frames: see ``frame_channels``)."""

    def reset(self) -> None: ...

    def steps(self, frames: np.ndarray) -> dict[str, np.ndarray]: ...


def step_network(network: object) -> StepNetwork:
    """``network`` (as ``rtnet.resolve.load`` builds it), as evaluation runs it."""
    from rtnet.network import BackboneNetwork
    from rtnet.training.pose_backbone import LandmarkClassifierNetwork

    if not isinstance(network, BackboneNetwork | LandmarkClassifierNetwork):
        raise TypeError(f"{type(network).__name__} does not take several model steps at once")
    steps: StepNetwork = network
    return steps


def frame_channels(network: StepNetwork) -> Channels | None:
    """The channel order of the clips ``network`` takes; None: raw BGR frames as read."""
    channels: Channels | None = getattr(network, "channels", None)
    return channels


class _RawSteps:
    """Stands in for the FrameRing where a network takes raw frames: the last step's frames."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def push(self, frame: np.ndarray) -> None:
        self.frames = [*self.frames[-(STEP_FRAMES - 1) :], frame]

    def clip(self) -> np.ndarray:
        return np.stack(self.frames)


class _StepReader(Protocol):
    """Frames in, the last model step's network input out: a FrameRing, or ``_RawSteps``."""

    def push(self, frame: np.ndarray) -> None: ...

    def clip(self) -> np.ndarray: ...


def _step_reader(channels: Channels | None) -> _StepReader:
    from rtnet import FrameRing

    return _RawSteps() if channels is None else FrameRing(STEP_FRAMES, channels=channels)


# ---------------------------------------------------------------------------------------------
# Which videos


@dataclass(frozen=True)
class EvalVideo:
    path: Path
    label: str | None  # the true class; None: predicted, not scored
    name: str  # as the user knows it: relative to the folder given


@dataclass(frozen=True)
class EvalSet:
    videos: tuple[EvalVideo, ...]
    source: str  # what was scored, for the report: "DATASET/videos_test", "FOLDER", "3 files"


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def _folder_videos(folder: Path, base: Path) -> list[EvalVideo]:
    """Videos directly in ``folder`` (no class) and in its sub-folders (class: the sub-folder)."""
    videos = [EvalVideo(p, None, str(p.relative_to(base))) for p in _videos_in(folder)]
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        videos += [EvalVideo(p, sub.name, str(p.relative_to(base))) for p in _videos_in(sub)]
    return videos


def find_videos(paths: Sequence[str | Path], labels: Sequence[str]) -> EvalSet:
    """The videos to score: ConfigError (one line) when there are none, or when a class folder
    names a class the classifier does not know."""
    if not paths:
        raise ConfigError("nothing to evaluate: name a dataset, a folder or video files")
    videos: list[EvalVideo] = []
    sources = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_file():
            videos.append(EvalVideo(path, None, str(given)))
            sources.append(str(given))
            continue
        if not path.is_dir():
            raise ConfigError(f"not found: {path} (expected a dataset, a folder or a video)")
        test = split_dir(path, TEST_SPLIT)
        if test.is_dir():
            found = _folder_videos(test, path)
            where = test
        elif split_dir(path, "train").is_dir():
            # A dataset without held-out videos: scoring its validation clips would overstate
            # (they chose the checkpoint), so that has to be asked for by name.
            raise ConfigError(
                f"{path} has no {test.name} folder: put held-out videos in "
                f"{test}/<class>/, or name a folder to score, such as {split_dir(path, 'valid')}"
            )
        else:
            found, where = _folder_videos(path, path), path
        if not found:
            raise ConfigError(
                f"no videos in {where} (looked for {', '.join(sorted(VIDEO_SUFFIXES))} files, "
                "directly and in class folders)"
            )
        videos += found
        sources.append(str(where))
    unknown = sorted({v.label for v in videos if v.label is not None} - set(labels))
    if unknown:
        raise ConfigError(
            f"class folder{'s' * (len(unknown) > 1)} {', '.join(unknown)} not among the "
            f"classifier's classes ({', '.join(labels)}): rename or move them"
        )
    source = sources[0] if len(sources) == 1 else f"{len(sources)} inputs"
    return EvalSet(tuple(videos), source)


# ---------------------------------------------------------------------------------------------
# Scoring


@dataclass(frozen=True)
class VideoScore:
    video: EvalVideo
    probs: np.ndarray | None  # (classes,) mean probabilities; None when skipped
    steps: int = 0
    error: str | None = None  # why it was skipped

    @property
    def predicted(self) -> int | None:
        return None if self.probs is None else int(self.probs.argmax())


@dataclass(frozen=True)
class EvalReport:
    labels: tuple[str, ...]
    source: str
    scores: tuple[VideoScore, ...]
    seconds: float  # wall time of decoding and inference
    stream_seconds: float  # the scored videos' own length
    confusion: np.ndarray = field(init=False)  # [true, predicted] video counts

    def __post_init__(self) -> None:
        confusion = np.zeros((len(self.labels),) * 2, dtype=np.int64)
        for score in self.scored:
            assert score.video.label is not None and score.predicted is not None
            confusion[self.labels.index(score.video.label), score.predicted] += 1
        object.__setattr__(self, "confusion", confusion)

    @property
    def done(self) -> tuple[VideoScore, ...]:
        return tuple(s for s in self.scores if s.probs is not None)

    @property
    def scored(self) -> tuple[VideoScore, ...]:
        """Videos with a prediction and a true class."""
        return tuple(s for s in self.done if s.video.label is not None)

    @property
    def skipped(self) -> tuple[VideoScore, ...]:
        return tuple(s for s in self.scores if s.probs is None)

    @property
    def accuracy(self) -> float | None:
        total = int(self.confusion.sum())
        return float(np.trace(self.confusion) / total) if total else None

    def per_class(self) -> list[tuple[str, int, int]]:
        """(class, videos, correct) for every class."""
        return [
            (label, int(self.confusion[i].sum()), int(self.confusion[i, i]))
            for i, label in enumerate(self.labels)
        ]

    @property
    def videos_per_s(self) -> float:
        return len(self.done) / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        labels = self.labels

        def video(score: VideoScore) -> dict[str, Any]:
            out: dict[str, Any] = {"video": score.video.name, "label": score.video.label}
            if score.probs is None:
                return out | {"error": score.error}
            predicted = labels[int(score.probs.argmax())]
            return out | {
                "predicted": predicted,
                "prob": round(float(score.probs.max()), 4),
                "correct": None if score.video.label is None else predicted == score.video.label,
                "steps": score.steps,
                "probs": [round(float(p), 4) for p in score.probs],
            }

        return {
            "source": self.source,
            "labels": list(labels),
            "accuracy": self.accuracy,
            "videos": [video(s) for s in self.scores],
            "per_class": {
                label: {
                    "videos": n,
                    "correct": right,
                    "accuracy": right / n if n else None,
                }
                for label, n, right in self.per_class()
            },
            "confusion": self.confusion.tolist(),
            "skipped": len(self.skipped),
            "seconds": round(self.seconds, 3),
            "stream_seconds": round(self.stream_seconds, 3),
            "videos_per_s": round(self.videos_per_s, 3),
        }


@dataclass(frozen=True)
class _Batch:
    index: int  # of the video
    frames: np.ndarray  # (steps * STEP_FRAMES, 3, 256, 256) clips, or raw (..., H, W, 3) frames


@dataclass(frozen=True)
class _VideoEnd:
    index: int
    ticks: int
    error: str | None = None


@dataclass(frozen=True)
class _Failed:
    error: BaseException  # raised again in the calling thread


class _Stop(Exception):
    pass


def _decode(
    videos: Sequence[EvalVideo],
    channels: Channels | None,
    batch_steps: int,
    out: queue.Queue[_Batch | _VideoEnd | _Failed],
    stop: threading.Event,
) -> None:
    """Reads every video as ``rtnet run`` reads a file, in batches of ``batch_steps`` clips (or
    raw frames, ``channels`` None)."""
    from rtnet.sources import VideoFileSource

    def put(item: _Batch | _VideoEnd | _Failed) -> None:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stop

    try:
        for index, video in enumerate(videos):
            ring = _step_reader(channels)
            clips: list[np.ndarray] = []
            ticks = 0
            try:
                source = VideoFileSource(video.path)
                try:
                    for tick in source.ticks(stop):
                        ring.push(tick.frame)
                        ticks += 1
                        if ticks % STEP_FRAMES == 0:
                            clips.append(ring.clip())
                        if len(clips) == batch_steps:
                            put(_Batch(index, np.concatenate(clips)))
                            clips = []
                finally:
                    source.close()
            except SourceError as err:
                put(_VideoEnd(index, ticks, str(err)))
                continue
            if clips:
                put(_Batch(index, np.concatenate(clips)))
            put(_VideoEnd(index, ticks))
    except _Stop:
        return
    except Exception as err:  # not the user's video: an internal error, shown by the caller
        with contextlib.suppress(_Stop):
            put(_Failed(err))


def settled_mean(probs: np.ndarray, warmup: int) -> np.ndarray:
    """Mean of per-step probabilities (steps, classes), leaving out the first ``warmup`` steps
    (all but the last when the video is shorter)."""
    return np.asarray(probs[min(warmup, len(probs) - 1) :].mean(axis=0), dtype=np.float32)


def evaluate(
    network: StepNetwork,
    output: str,
    labels: Sequence[str],
    videos: EvalSet,
    *,
    warmup_steps: int = 0,
    batch_steps: int = DEFAULT_BATCH_STEPS,
    on_video: Callable[[VideoScore], None] | None = None,
) -> EvalReport:
    """Scores every video of ``videos`` with ``network`` (head ``output``); a video that cannot
    be read, or is shorter than one model step, is skipped with the reason."""
    if batch_steps < 1:
        raise ConfigError(f"invalid --batch-steps {batch_steps}: expected 1 or more")
    items: queue.Queue[_Batch | _VideoEnd | _Failed] = queue.Queue(maxsize=PREFETCH_BATCHES)
    stop = threading.Event()
    reader = threading.Thread(
        target=_decode,
        args=(videos.videos, frame_channels(network), batch_steps, items, stop),
        name="rtnet-eval-decode",
        daemon=True,
    )
    scores: list[VideoScore] = []
    stream_seconds = 0.0
    started = time.perf_counter()
    reader.start()
    try:
        current: int | None = None
        rows: list[np.ndarray] = []
        while len(scores) < len(videos.videos):
            item = items.get()
            if isinstance(item, _Failed):
                raise item.error
            if current != item.index:  # the first batch (or end) of a new video
                current, rows = item.index, []
                network.reset()
            if isinstance(item, _Batch):
                rows.append(network.steps(item.frames)[output])
                continue
            video = videos.videos[item.index]
            steps = sum(len(r) for r in rows)
            if item.error is not None or steps == 0:
                error = item.error or (
                    f"too short: {item.ticks / MODEL_FPS:.2f} s, needs at least "
                    f"{STEP_FRAMES / MODEL_FPS:g} s (one model step)"
                )
                score = VideoScore(video, None, 0, error)
            else:
                score = VideoScore(video, settled_mean(np.concatenate(rows), warmup_steps), steps)
                stream_seconds += steps * STEP_FRAMES / MODEL_FPS
            scores.append(score)
            current = None
            if on_video is not None:
                on_video(score)
    finally:
        stop.set()
        reader.join()
    return EvalReport(
        labels=tuple(labels),
        source=videos.source,
        scores=tuple(scores),
        seconds=time.perf_counter() - started,
        stream_seconds=stream_seconds,
    )


def iterate_steps(network: StepNetwork, output: str, path: Path) -> Iterator[np.ndarray]:
    """One video, one model step per network call (what the engine does): the reference
    ``evaluate``'s batches must agree with, and the naive path ``rtnet bench eval`` times."""
    from rtnet.sources import VideoFileSource

    ring = _step_reader(frame_channels(network))
    network.reset()
    source = VideoFileSource(path)
    try:
        for ticks, tick in enumerate(source.ticks(threading.Event()), start=1):
            ring.push(tick.frame)
            if ticks % STEP_FRAMES == 0:
                yield network.steps(ring.clip())[output][-1]
    finally:
        source.close()
