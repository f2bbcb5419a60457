"""Backbone features of every video, computed once and cached under ``DATASET/features/``.

A video is read exactly as ``rtnet run`` reads it (resampled to 16 fps, preprocessed by the
FrameRing, 4 frames per model step, temporal state from zero), so the head trains on the
features it will see live.

Features are kept as the head uses them: pooled to its grid (4x4 by default, 4 to 16 times
smaller than the 8x8 maps), one per frame for lite0 (16 a second), one per model step for the
SenseKit backbones. With fine-tuned layers they are the input of those layers, unpooled. The pose
backbone's come from ``rtnet.training.pose_backbone.LandmarkExtractor``: a landmark vector per
frame, under ``features/pose/``.

Cache entries are ``features/<backbone>[/grid-<G>|/finetune-<N>]/<split>/<label>/<file>.npz``.
An entry is reused while the video has the same size and modification time, or failing that the
same content hash (a copied or touched file), and was made by the same backbone weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from rtnet.errors import SourceError
from rtnet.models.backbones import StreamingBackbone
from rtnet.resample import MODEL_FPS, STEP_FRAMES
from rtnet.training.backbones import BackboneChoice
from rtnet.training.dataset import Video
from rtnet.training.head import pool_features

CACHE_FORMAT = 2  # 2: pooled to the head's grid; lite0 per frame
CLIPS_PER_CALL = 8  # 32 frames per backbone call: fewer Python round trips, same numbers


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a video file's content, cheaply first (size, mtime), then surely (hash)."""

    size: int
    mtime_ns: int
    sha256: str | None = None

    @classmethod
    def of(cls, path: Path) -> Fingerprint:
        stat = path.stat()
        return cls(stat.st_size, stat.st_mtime_ns)

    def with_hash(self, path: Path) -> Fingerprint:
        if self.sha256 is not None:
            return self
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return Fingerprint(self.size, self.mtime_ns, digest.hexdigest())


class FeatureExtractor(Protocol):
    """Where a video's training features come from: a backbone's layers (``Extractor``) or the
    landmark trackers (``rtnet.training.pose_backbone.LandmarkExtractor``)."""

    def identity(self) -> str:
        """Changes whenever the features would: a cache entry of another identity is stale."""
        ...

    def folder(self, root: Path) -> Path:
        """Where the dataset at ``root`` keeps these features."""
        ...

    def extract(self, path: Path, min_steps: int) -> tuple[np.ndarray, int]:
        """(float16 features, model steps) of a video; SourceError, or TooShort under
        ``min_steps``."""
        ...


@dataclass(frozen=True)
class Extractor:
    """The backbone (and how many of its layers) that features come from."""

    choice: BackboneChoice
    backbone: StreamingBackbone
    layers: int  # the first ``layers`` entries of ``backbone.cnn`` are applied
    grid: int | None = None  # pooled to grid x grid cells (the whole backbone only)

    @property
    def finetune_layers(self) -> int:
        return len(self.backbone.cnn) - self.layers

    def identity(self) -> str:
        return f"{self.choice.identity()}:layers={self.layers}:grid={self.grid}:v{CACHE_FORMAT}"

    def folder(self, root: Path) -> Path:
        folder = root / "features" / self.choice.key
        if self.finetune_layers:
            return folder / f"finetune-{self.finetune_layers}"
        return folder / f"grid-{self.grid}" if self.grid is not None else folder

    def extract(self, path: Path, min_steps: int) -> tuple[np.ndarray, int]:
        return extract_video(path, self, min_steps)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """(T, 3, 256, 256) frames in the backbone's channel order, stream order -> the layers'
        output."""
        x = torch.from_numpy(frames)
        if self.layers == len(self.backbone.cnn):
            features = self.backbone(x)  # the backbone's own (fast) path
            if self.grid is not None:
                features = pool_features(features, self.grid)
            return features.numpy()
        with torch.inference_mode():
            if self.backbone.fast:
                x = x.contiguous(memory_format=torch.channels_last)
            out = self.backbone.cnn[: self.layers](x)
        return out.float().contiguous().numpy()


class TooShort(Exception):
    """A video with fewer model steps than the head needs."""


@dataclass(frozen=True)
class Extracted:
    video: Video
    features: np.ndarray  # (features, C, H, W) float32: per model step, or per frame (lite0)
    cached: bool


@dataclass(frozen=True)
class Skipped:
    video: Video
    reason: str


class FeatureCache:
    """Features of one dataset for one extractor."""

    def __init__(self, root: Path, extractor: FeatureExtractor) -> None:
        self.root = root
        self.extractor = extractor
        self.folder = extractor.folder(root)

    def path(self, video: Video) -> Path:
        return self.folder / video.split / video.label / f"{video.path.name}.npz"

    def load(self, video: Video, min_steps: int) -> np.ndarray | None:
        """The cached features of ``video`` when still valid (and long enough), else None."""
        entry = self.path(video)
        if not entry.is_file():
            return None
        try:
            with np.load(entry, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                features = data["features"]
        except (OSError, ValueError, KeyError):
            return None  # damaged entry: extract again
        if meta.get("extractor") != self.extractor.identity() or meta.get("steps", 0) < min_steps:
            return None
        current = Fingerprint.of(video.path)
        if meta.get("size") != current.size:
            return None
        if meta.get("mtime_ns") != current.mtime_ns:
            # Touched or copied: still valid if the bytes are the same (then remember the mtime).
            current = current.with_hash(video.path)
            if meta.get("sha256") != current.sha256:
                return None
            self.store(video, features, current, meta["steps"])
        return np.asarray(features, dtype=np.float32)

    def store(
        self, video: Video, features: np.ndarray, fingerprint: Fingerprint, steps: int
    ) -> None:
        entry = self.path(video)
        entry.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "extractor": self.extractor.identity(),
            "video": video.name,
            "size": fingerprint.size,
            "mtime_ns": fingerprint.mtime_ns,
            "sha256": fingerprint.with_hash(video.path).sha256,
            "steps": steps,
        }
        # Written beside and renamed: an interrupted run never leaves a truncated entry.
        fd, temp = tempfile.mkstemp(dir=entry.parent, prefix=".", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, features=features, meta=json.dumps(meta))
            os.replace(temp, entry)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def extract_video(path: Path, extractor: Extractor, min_steps: int) -> tuple[np.ndarray, int]:
    """Features of one video file, read like ``rtnet run`` reads it, and its number of model
    steps; raises SourceError or TooShort."""
    from rtnet import FrameRing
    from rtnet.sources import VideoFileSource

    source = VideoFileSource(path)
    ring = FrameRing(STEP_FRAMES, channels=extractor.choice.channels)
    clips: list[np.ndarray] = []
    outputs: list[np.ndarray] = []
    ticks = 0
    extractor.backbone.reset()  # a new stream
    try:
        for tick in source.ticks(threading.Event()):
            ring.push(tick.frame)
            ticks += 1
            if ticks % STEP_FRAMES == 0:
                clips.append(ring.clip())
            if len(clips) == CLIPS_PER_CALL:
                outputs.append(extractor(np.concatenate(clips)))
                clips.clear()
    finally:
        source.close()
    if ticks // STEP_FRAMES < min_steps:
        raise TooShort(
            f"too short: {ticks / MODEL_FPS:.2f} s, needs at least "
            f"{min_steps * STEP_FRAMES / MODEL_FPS:g} s "
            f"({min_steps} model steps)"
        )
    if clips:
        outputs.append(extractor(np.concatenate(clips)))
    # Stored as float16 (half the disk); a fresh run uses the same rounded values as a cached one.
    return np.concatenate(outputs).astype(np.float16), ticks // STEP_FRAMES


def extract_all(
    videos: Sequence[Video],
    cache: FeatureCache,
    min_steps: int,
    on_progress: Callable[[Video, bool], None] | None = None,
) -> tuple[list[Extracted], list[Skipped]]:
    """Features of every video (cached ones loaded); unusable videos are skipped with a reason."""
    extracted: list[Extracted] = []
    skipped: list[Skipped] = []
    for video in videos:
        features = cache.load(video, min_steps)
        cached = features is not None
        if features is None:
            fingerprint = Fingerprint.of(video.path)
            try:
                half, steps = cache.extractor.extract(video.path, min_steps)
            except (SourceError, TooShort) as err:
                skipped.append(Skipped(video, str(err)))
            else:
                cache.store(video, half, fingerprint, steps)
                features = half.astype(np.float32)
        if features is not None:
            extracted.append(Extracted(video, features, cached))
        if on_progress is not None:
            on_progress(video, cached)
    return extracted, skipped
