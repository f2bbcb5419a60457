"""The built-in pose and hand trackers as the backbone of a custom classifier
(``rtnet train --backbone pose``).

Every frame's landmarks become one feature vector (``rtnet.training.landmark_features``: the body
and hands in the body's own frame), 16 a second, which the temporal head takes as it takes
lite0's per-frame features, on a 1x1 grid. Training reads a video as ``rtnet run`` reads it
(resampled to 16 fps, tracking from a fresh start), and the live network runs the same trackers
on the same frames, so the head sees at run time the features it was trained on.

Frames are always tracked as a camera facing the person sees them (not mirrored): a selfie
camera's frames are flipped back first, so that "moving to the left" and the hand slots mean the
same in training videos and live.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import torch

from rtnet.resample import MODEL_FPS, STEP_FRAMES
from rtnet.training.backbones import BackboneChoice
from rtnet.training.head import HeadConfig
from rtnet.training.landmark_features import BODY, FEATURES, FeatureStream, unmirror_view

if TYPE_CHECKING:
    from rtnet.landmarks_in import LandmarksFile
    from rtnet.tracking.stream import FrameTracker
    from rtnet.training.head import StreamingHead

# What the head is told about this backbone: one feature per frame, FEATURES channels, no grid.
FEATURES_PER_STEP = STEP_FRAMES
GRID = 1
# Learned projections of each frame's landmarks (as many as lite0's per cell: more learnt the
# training clips' noise, 97.4-98.5% of held-out steps at 16 against 98.1-100% at 8).
MOTION_CHANNELS = 8
# The body's flag, place and scale (landmark_features' first BODY channels) go to the head as
# they are too: with few clips, a learnt projection mixes them with the limbs' noisier landmarks.
DIRECT_CHANNELS = BODY
# Bumped when the features of a frame change: cached features of an older layout are stale.
FEATURES_VERSION = 3  # 2: centred on the shoulders, smoothed scale, lost parts held; 3: no z


def head_config(base: HeadConfig, steps: int) -> HeadConfig:
    """The temporal head over ``steps`` model steps of this backbone's features."""
    return replace(
        base,
        steps=steps,
        grid=GRID,
        features_per_step=FEATURES_PER_STEP,
        motion_channels=MOTION_CHANNELS,
        direct_channels=DIRECT_CHANNELS,
    )


def landmark_tracking() -> FrameTracker:
    """The trackers the pose backbone runs: body and both hands, fp32 (training and live alike:
    bf16 would shift the features the head learnt)."""
    from rtnet.tracking import Tracking

    return Tracking(hands=True, mirrored=False, precision="fp32")


class LandmarkFeatures:
    """The trackers and a ``FeatureStream``: consecutive raw frames of one stream in (BGR, as
    read), (T, FEATURES, 1, 1) features out; ``reset`` before another stream. ``mirrored``
    frames (a selfie view) are flipped back before tracking.

    ``recorded`` replays a recording (``--landmarks-in``) instead of tracking; one recorded in a
    mirrored view cannot be flipped back, so its features are (``unmirror_view``)."""

    def __init__(
        self,
        tracking: FrameTracker | None = None,
        *,
        mirrored: bool = False,
        recorded: LandmarksFile | None = None,
    ) -> None:
        self.unmirror = False
        if recorded is not None:
            from rtnet.landmarks_in import RecordedTracking

            tracking = RecordedTracking(recorded, hands=True)
            mirrored, self.unmirror = False, recorded.mirrored
        self.tracking = tracking if tracking is not None else landmark_tracking()
        self.mirrored = mirrored
        self.stream = FeatureStream()

    def reset(self) -> None:
        self.tracking.reset()
        self.stream.reset()

    def __call__(
        self, frames: Sequence[npt.NDArray[np.uint8]], indices: Sequence[int]
    ) -> npt.NDArray[np.float32]:
        rows = []
        for frame, index in zip(frames, indices, strict=True):
            if self.mirrored:
                frame = np.ascontiguousarray(frame[:, ::-1])
            height, width = frame.shape[:2]
            rows.append(self.stream(self.tracking(frame, index), width / height))
        features = np.stack(rows)
        if self.unmirror:
            features = unmirror_view(features)
        return features[:, :, None, None]


@dataclass
class LandmarkExtractor:
    """Training features of the pose backbone (see ``rtnet.training.features.FeatureExtractor``):
    one row per frame, from the trackers run on the video as ``rtnet run`` reads it."""

    choice: BackboneChoice  # the pose model's file: new weights make cached features stale
    features: LandmarkFeatures = field(default_factory=LandmarkFeatures)

    def identity(self) -> str:
        return f"{self.choice.identity()}:features={FEATURES}v{FEATURES_VERSION}"

    def folder(self, root: Path) -> Path:
        return root / "features" / self.choice.key

    def extract(self, path: Path, min_steps: int) -> tuple[npt.NDArray[np.float16], int]:
        """(features per frame as float16, model steps) of one video file; raises SourceError
        for an unreadable file, TooShort for one under ``min_steps`` model steps."""
        from rtnet.sources import VideoFileSource
        from rtnet.training.features import TooShort

        source = VideoFileSource(path)
        self.features.reset()  # a new stream
        rows: list[npt.NDArray[np.float32]] = []
        try:
            for tick in source.ticks(threading.Event()):
                rows.append(self.features([tick.frame], [tick.index]))
        finally:
            source.close()
        steps = len(rows) // FEATURES_PER_STEP
        if steps < min_steps:
            raise TooShort(
                f"too short: {len(rows) / MODEL_FPS:.2f} s, needs at least "
                f"{min_steps * STEP_FRAMES / MODEL_FPS:g} s ({min_steps} model steps)"
            )
        features = np.concatenate(rows[: steps * FEATURES_PER_STEP])
        return features.astype(np.float16), steps


class LandmarkClassifierNetwork:
    """Trackers + streaming temporal head, as the engine runs a frames network (each step's raw
    frames in, ``{output: probabilities}`` out), and as ``rtnet eval`` runs one (``steps``)."""

    takes_frames = True

    def __init__(self, features: LandmarkFeatures, head: StreamingHead, output: str) -> None:
        self.features = features
        self.head = head
        self.output = output
        self._next_index = 0  # of the next frame ``steps`` is given

    def reset(self) -> None:
        self.features.reset()
        self.head.reset()
        self._next_index = 0

    def __call__(
        self, frames: Sequence[npt.NDArray[np.uint8]], indices: Sequence[int]
    ) -> dict[str, npt.NDArray[np.float32]]:
        """One model step: its frames and their tick indices -> the step's probabilities."""
        return {self.output: self._probabilities(frames, indices)[-1]}

    def steps(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """Whole model steps of consecutive frames of the stream, (T, H, W, 3) BGR ->
        (steps, classes)."""
        indices = range(self._next_index, self._next_index + len(frames))
        self._next_index += len(frames)
        return {self.output: self._probabilities(list(frames), indices)}

    def _probabilities(
        self, frames: Sequence[npt.NDArray[np.uint8]], indices: Sequence[int]
    ) -> npt.NDArray[np.float32]:
        features = self.features(frames, indices)
        # Rounded to float16 as the training cache stores them: the same numbers as in training.
        x = torch.from_numpy(features.astype(np.float16).astype(np.float32))
        with torch.inference_mode():
            probs: npt.NDArray[np.float32] = self.head(x).numpy()
        return probs
