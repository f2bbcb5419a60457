"""Pose and hand tracking as a per-frame network for a stream: one call per frame (tick), raw BGR
frames in, one ``FrameTracks`` out, with the JSONL object `rtnet pose --jsonl` writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from rtnet.models import Precision
from rtnet.resample import MODEL_FPS
from rtnet.tracking.hands import HandResult, HandTracker
from rtnet.tracking.pose import PoseResult, PoseTracker

JSON_DIGITS = 5  # 1e-5 of the frame: far below a pixel, keeps the lines short


def _rounded(values: npt.NDArray[np.float32]) -> list[list[float]]:
    rounded: list[list[float]] = np.round(values.astype(np.float64), JSON_DIGITS).tolist()
    return rounded


def as_recorded(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``values`` as the JSONL records them: the apps analyse exactly the landmarks a recording
    gives back, so a run on a recording (``--landmarks-in``) matches the run on the video."""
    return np.round(values.astype(np.float64), JSON_DIGITS).astype(np.float32)


@dataclass(frozen=True)
class FrameTracks:
    """What was tracked in frame ``frame`` (a tick index), ``time`` seconds into the stream at
    the end of that frame."""

    frame: int
    time: float
    pose: PoseResult | None
    hands: list[HandResult] = field(default_factory=list)
    size: tuple[int, int] | None = None  # the frame's width and height, in pixels
    mirrored: bool | None = None  # the frame is mirrored (selfie view): whose left is the left

    def to_json(self) -> dict[str, Any]:
        """The JSONL object: x, y normalised to the frame; pose landmarks x, y, z, visibility,
        presence; hand landmarks x, y, z; ``size``, the frame's [width, height], and
        ``mirrored``, when known (what a replay, ``--landmarks-in``, needs to know)."""
        pose = None
        if self.pose is not None:
            pose = {"score": round(self.pose.score, 4), "landmarks": _rounded(self.pose.landmarks)}
        hands = [
            {
                "handedness": hand.handedness,
                "score": round(hand.score, 4),
                "landmarks": _rounded(hand.landmarks),
            }
            for hand in self.hands
        ]
        record: dict[str, Any] = {
            "frame": self.frame,
            "time": round(self.time, 6),
            "pose": pose,
            "hands": hands,
        }
        if self.size is not None:
            record["size"] = list(self.size)
        if self.mirrored is not None:
            record["mirrored"] = self.mirrored
        return record


class Tracking:
    """A PoseTracker and, with ``hands``, a HandTracker, called once per frame in stream order.

    ``mirrored`` tells the hand tracker whether frames are mirrored (selfie view), for the
    handedness labels (see rtnet.tracking.hands). ``reset`` before a new stream.
    """

    takes_frames = True  # the engine hands it raw frames, not FrameRing clips

    def __init__(
        self,
        *,
        hands: bool = True,
        mirrored: bool = True,
        precision: Precision = "fp32",
        pose_tracker: PoseTracker | None = None,
        hand_tracker: HandTracker | None = None,
    ) -> None:
        self.pose = pose_tracker if pose_tracker is not None else PoseTracker(precision=precision)
        self.mirrored = mirrored
        self.hands = None
        if hands:
            self.hands = hand_tracker or HandTracker(mirrored=mirrored, precision=precision)

    def reset(self) -> None:
        self.pose.reset()
        if self.hands is not None:
            self.hands.reset()

    def __call__(self, frame: npt.NDArray[np.uint8], index: int) -> FrameTracks:
        """Track tick ``index``'s BGR frame; its stream time is (index + 1) / MODEL_FPS."""
        time = (index + 1) / MODEL_FPS
        pose = self.pose.process(frame, time)
        hands = self.hands.process(frame, time) if self.hands is not None else []
        if pose is not None:
            pose = replace(pose, landmarks=as_recorded(pose.landmarks))
        hands = [replace(hand, landmarks=as_recorded(hand.landmarks)) for hand in hands]
        height, width = frame.shape[:2]
        return FrameTracks(index, time, pose, hands, (width, height), self.mirrored)


@dataclass(frozen=True)
class PoseStep:
    """One model step of tracked frames: what the exercise engine takes."""

    landmarks: npt.NDArray[np.float32]  # (T, 33, 5) x, y, z, visibility, presence; NaN: no pose
    times: npt.NDArray[np.float64]  # (T,) stream seconds at the end of each frame
    aspect: float  # frame width / height (x and y are normalised to them)
    tracks: list[FrameTracks]
    # With hands tracked (gestures): (T, 42, 5), the left hand's 21 landmarks then the right's
    # (x, y, z, then 1, 1: tracked), NaN for a hand not tracked; None: hands not tracked.
    hands: npt.NDArray[np.float32] | None = None
    mirrored: bool = False  # frames are mirrored (a selfie camera): whose left is the left


class FrameTracker(Protocol):
    """What ``PoseSteps`` runs on each frame: ``Tracking``, or a test's scripted landmarks."""

    def reset(self) -> None: ...

    def __call__(self, frame: npt.NDArray[np.uint8], index: int) -> FrameTracks: ...


class PoseSteps:
    """``Tracking`` run on every frame of a step (the engine hands it the step's raw frames), its
    landmarks stacked for the exercise apps (fitness, calories, reps on the built-in models) and,
    with ``hands``, the hands' for gestures."""

    takes_frames = True

    def __init__(
        self, tracking: FrameTracker, *, hands: bool = False, mirrored: bool = False
    ) -> None:
        self.tracking = tracking
        self.hands = hands  # stack the hands' landmarks too (gestures)
        self.mirrored = mirrored

    def reset(self) -> None:
        self.tracking.reset()

    def __call__(self, frames: Sequence[npt.NDArray[np.uint8]], indices: Sequence[int]) -> PoseStep:
        tracks = [self.tracking(frame, index) for frame, index in zip(frames, indices, strict=True)]
        landmarks = np.full((len(tracks), 33, 5), np.nan, np.float32)
        for row, frame_tracks in zip(landmarks, tracks, strict=True):
            if frame_tracks.pose is not None:
                row[:] = frame_tracks.pose.landmarks
        height, width = frames[0].shape[:2]
        times = np.array([t.time for t in tracks], np.float64)
        hands = _stacked_hands(tracks) if self.hands else None
        return PoseStep(landmarks, times, width / height, tracks, hands, self.mirrored)


def _stacked_hands(tracks: Sequence[FrameTracks]) -> npt.NDArray[np.float32]:
    """(T, 42, 5): per frame the hand labelled Left, then the one labelled Right (a second hand
    with the same label takes the free place: the exercise core assigns hands to the nearer pose
    wrist anyway)."""
    out = np.full((len(tracks), 42, 5), np.nan, np.float32)
    for row, frame_tracks in zip(out, tracks, strict=True):
        free = [0, 1]
        for hand in frame_tracks.hands[:2]:
            block = 0 if hand.handedness == "Left" else 1
            block = block if block in free else free[0]
            free.remove(block)
            row[21 * block : 21 * (block + 1), :3] = hand.landmarks
            row[21 * block : 21 * (block + 1), 3:] = 1.0
    return out
