"""The network an app runs: one streaming backbone feeding one or more heads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import torch

# The SenseKit networks were trained on frames in OpenCV's channel order (BGR): the original
# implementation only scales and transposes, and pipeline.npz is reproduced only that way (the
# reference README's BGR->RGB step is off by up to 0.25 in probability). The FrameRing feeding a
# network writes its frames in the order the network declares, so no per-clip flip is needed.
NETWORK_CHANNEL_ORDER: Literal["rgb", "bgr"] = "bgr"


class Network:
    """Backbone + heads: a (4,3,256,256) clip in, one output vector per head out.

    The backbone keeps temporal state between calls, so clips must come in time order; call
    ``reset`` before a new stream.
    """

    def __init__(
        self, backbone: torch.nn.Module, heads: Mapping[str, torch.nn.Module], device: str = "cpu"
    ) -> None:
        self.backbone = backbone
        self.heads = dict(heads)
        self.device = torch.device(device)
        self.channels: Literal["rgb", "bgr"] = NETWORK_CHANNEL_ORDER  # what clips must hold

    def __call__(self, clip: np.ndarray) -> dict[str, np.ndarray]:
        """Head outputs for one clip: probabilities (classes,) or MET (1,), as float32 numpy."""
        # inference_mode is per thread, so it is entered here, in whichever thread infers.
        with torch.inference_mode():
            frames = torch.from_numpy(clip).to(self.device)
            features = self.backbone(frames)
            outputs = {}
            for kind, head in self.heads.items():
                out = head(features).float().cpu().numpy()
                outputs[kind] = out[-1]  # one clip of 4 frames -> one row
        return outputs

    def reset(self) -> None:
        reset = getattr(self.backbone, "reset", None)
        if reset is not None:
            reset()
