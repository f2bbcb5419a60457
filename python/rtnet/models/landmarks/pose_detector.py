"""MediaPipe's pose detector (pose_detection.tflite): 224x224 [-1, 1] -> 2254 anchors.

A MobileNetV2 backbone (taps at 28x28 and 14x14), a top-down path to 28x28, and per scale
(28, 14, 7) a classifier and a box regressor on a depth-to-space of the decoder features.
Outputs: boxes (N, 2254, 12) in input pixels relative to the anchors, and score logits (N, 2254, 1).
"""

from __future__ import annotations

import torch
import torch.fx
from torch import Tensor, nn

from rtnet.models.landmarks.blocks import (
    Conv,
    DwPw,
    InvertedResidual,
    ResidualDwPw,
    anchors_last,
    depth_to_space,
    dw,
    pw,
    upsample2x,
)
from rtnet.models.landmarks.network import LandmarkNetwork

IR = InvertedResidual


class Head(nn.Module):
    """Score and box predictions of one scale (2 anchors per cell at 28 and 14, 6 at 7)."""

    def __init__(self, channels: int, anchors: int) -> None:
        super().__init__()
        # A stride-2 convolution after a depth-to-space: back to the scale's resolution.
        self.classifier = DwPw(channels, anchors, stride=2, padding=1)
        self.regressor = DwPw(channels, anchors * 12, stride=2, padding=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return anchors_last(self.classifier(x), 1), anchors_last(self.regressor(x), 12)


class PoseDetector(LandmarkNetwork):
    input_size = 224
    outputs = ("boxes", "scores")

    def __init__(self) -> None:
        super().__init__()
        self.stage28 = nn.Sequential(  # 224 -> 28x28x40
            Conv(3, 24, 3, 2, padding=1, activation="relu6"),
            IR(24, 16, 3),
            IR(16, 24, 3, 2, expanded=64, padding=1),
            IR(24, 24, 3, expanded=144),
            IR(24, 40, 5, 2, expanded=144, padding=2),
            IR(40, 40, 5, expanded=240),
        )
        self.stage14 = nn.Sequential(  # -> 14x14x112
            IR(40, 80, 3, 2, expanded=240, padding=1),
            IR(80, 80, 3, expanded=480),
            IR(80, 80, 3, expanded=480),
            IR(80, 112, 5, expanded=480),
            IR(112, 112, 5, expanded=672),
            IR(112, 112, 5, expanded=672),
        )
        self.stage7 = nn.Sequential(  # -> 7x7x1152
            IR(112, 192, 5, 2, expanded=672, padding=2),
            IR(192, 192, 5, expanded=1152),
            IR(192, 192, 5, expanded=1152),
            IR(192, 192, 5, expanded=1152),
            pw(192, 1152, "relu6"),
            dw(1152, 3, activation="relu6"),
        )
        self.lateral28 = DwPw(40, 96, pw_activation="relu6")
        self.lateral14 = DwPw(112, 192, pw_activation="relu6")
        self.top_down14 = pw(1152, 192, "relu6")
        self.refine14 = nn.Sequential(ResidualDwPw(192), ResidualDwPw(192))
        self.top_down28 = pw(192, 96, "relu6")
        self.refine28 = nn.Sequential(ResidualDwPw(96), ResidualDwPw(96))
        self.head28 = Head(24, 2)
        self.head14 = Head(48, 2)
        self.head7 = Head(288, 6)

    def compute(self, x: Tensor) -> tuple[Tensor, ...]:
        c28 = self.stage28(x)
        c14 = self.stage14(c28)
        c7 = self.stage7(c14)
        p14 = self.refine14(self.lateral14(c14) + self.top_down14(upsample2x(c7)))
        p28 = self.refine28(self.lateral28(c28) + self.top_down28(upsample2x(p14)))
        scores28, boxes28 = self.head28(depth_to_space(p28, 2))
        scores14, boxes14 = self.head14(depth_to_space(p14, 2))
        scores7, boxes7 = self.head7(depth_to_space(c7, 2))
        boxes = torch.cat((boxes28, boxes14, boxes7), dim=1)
        scores = torch.cat((scores28, scores14, scores7), dim=1)
        return boxes, scores


# Single operations to torch.fx (wrap works per module that calls them): the kernel-program
# lowering runs depth-to-space itself; the converter reads the data flow around them.
torch.fx.wrap("depth_to_space")
torch.fx.wrap("anchors_last")
