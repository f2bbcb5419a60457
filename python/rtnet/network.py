"""The network an app runs: what the engine may expect of it (``Network``), and the usual kind,
one streaming backbone feeding one or more heads (``BackboneNetwork``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import torch

if TYPE_CHECKING:
    from rtnet.models.backbones import StreamingBackbone

# The order of the colour channels in the frames a network takes: the FrameRing feeding it writes
# them in this order, so no per-clip flip is needed.
Channels = Literal["rgb", "bgr"]


class Network(Protocol):
    """What the engine runs: clips of ``rtnet.resample.STEP_FRAMES`` frames (T, 3, 256, 256),
    float32 in [0, 1], in time order, in the channel order ``channels``; one output per head.

    A network keeps temporal state between calls: ``reset`` before a new stream."""

    @property
    def channels(self) -> Channels: ...

    def reset(self) -> None: ...

    def __call__(self, clip: np.ndarray) -> Mapping[str, np.ndarray]: ...


class FrameNetwork(Protocol):
    """What the engine runs for an app that steps one frame at a time (``rtnet.tracking``):
    each raw BGR uint8 frame as read, with its tick index, in time order; ``reset`` before a
    new stream."""

    @property
    def takes_frames(self) -> bool:
        """True: the engine hands it frames, not FrameRing clips."""
        ...

    def reset(self) -> None: ...

    def __call__(self, frame: np.ndarray, index: int) -> Any: ...


class FramesNetwork(Protocol):
    """What the engine runs for an app that steps several frames at a time on a per-frame model
    (``rtnet.tracking.PoseSteps``): each step's raw BGR uint8 frames with their tick indices."""

    @property
    def takes_frames(self) -> bool: ...

    def reset(self) -> None: ...

    def __call__(self, frames: Sequence[np.ndarray], indices: Sequence[int]) -> Any: ...


AnyNetwork = Network | FrameNetwork | FramesNetwork


class BackboneNetwork:
    """Backbone + heads: a clip in, one output vector per head out; the channel order is the
    backbone's (see ``StreamingBackbone.channels``)."""

    def __init__(
        self,
        backbone: StreamingBackbone,
        heads: Mapping[str, torch.nn.Module],
        device: str | torch.device = "cpu",
    ) -> None:
        self.backbone = backbone
        self.heads = dict(heads)
        self.device = torch.device(device)

    @property
    def channels(self) -> Channels:
        return self.backbone.channels

    def __call__(self, clip: np.ndarray) -> dict[str, np.ndarray]:
        """Head outputs for one clip: probabilities (classes,) or MET (1,), as float32 numpy."""
        return {kind: out[-1] for kind, out in self.steps(clip).items()}

    def steps(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """Head outputs for several consecutive clips at once, (steps, ...) per head: the same
        numbers as one call per clip, with fewer round trips (``rtnet eval``'s batches)."""
        # inference_mode is per thread, so it is entered here, in whichever thread infers.
        with torch.inference_mode():
            features = self.backbone(torch.from_numpy(frames).to(self.device))
            return {kind: head(features).float().cpu().numpy() for kind, head in self.heads.items()}

    def reset(self) -> None:
        self.backbone.reset()
        for head in self.heads.values():
            reset = getattr(head, "reset", None)  # stateful heads: a classifier's temporal head
            if reset is not None:
                reset()
