"""Pose and hand tracking as a per-frame network for a stream: one call per frame (tick), raw BGR
frames in, one ``FrameTracks`` out, with the JSONL object `rtnet pose --jsonl` writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class FrameTracks:
    """What was tracked in frame ``frame`` (a tick index), ``time`` seconds into the stream at
    the end of that frame."""

    frame: int
    time: float
    pose: PoseResult | None
    hands: list[HandResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSONL object: x, y normalised to the frame; pose landmarks x, y, z, visibility,
        presence; hand landmarks x, y, z."""
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
        return {"frame": self.frame, "time": round(self.time, 6), "pose": pose, "hands": hands}


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
        return FrameTracks(index, time, pose, hands)


@dataclass(frozen=True)
class PoseStep:
    """One model step of tracked frames: what the exercise engine takes."""

    landmarks: npt.NDArray[np.float32]  # (T, 33, 5) x, y, z, visibility, presence; NaN: no pose
    times: npt.NDArray[np.float64]  # (T,) stream seconds at the end of each frame
    aspect: float  # frame width / height (x and y are normalised to them)
    tracks: list[FrameTracks]


class FrameTracker(Protocol):
    """What ``PoseSteps`` runs on each frame: ``Tracking``, or a test's scripted landmarks."""

    def reset(self) -> None: ...

    def __call__(self, frame: npt.NDArray[np.uint8], index: int) -> FrameTracks: ...


class PoseSteps:
    """``Tracking`` run on every frame of a step (the engine hands it the step's raw frames), its
    landmarks stacked for the exercise apps (fitness, calories, reps on the built-in models)."""

    takes_frames = True

    def __init__(self, tracking: FrameTracker) -> None:
        self.tracking = tracking

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
        return PoseStep(landmarks, times, width / height, tracks)
