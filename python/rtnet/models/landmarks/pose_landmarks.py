"""MediaPipe's full pose landmark network (pose_landmark_full.tflite): 256x256 [0, 1] crop.

A MobileNetV2 encoder to 8x8, a top-down decoder with skips at 16, 32, 64 and 128 (heatmap at
64x64, segmentation at 256x256), and a regression branch that pools 8x8 down to 2x2.
Outputs: landmarks (N, 195) = 39 x (x, y, z, visibility, presence) in input pixels, pose flag
(N, 1) after its sigmoid, segmentation logits (N, 256, 256, 1), heatmap (N, 64, 64, 39), world
landmarks (N, 117) in metres.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rtnet.models.landmarks.blocks import (
    Conv,
    DwPw,
    InvertedResidual,
    PoolResidual,
    ResidualDwPw,
    dw,
    pw,
    upsample2x,
)
from rtnet.models.landmarks.network import LandmarkNetwork

IR = InvertedResidual


def skip(in_channels: int, out_channels: int) -> DwPw:
    """An encoder feature turned into a decoder skip connection."""
    return DwPw(in_channels, out_channels, dw_activation="relu6", pw_activation="relu6")


def refine(channels: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(*(ResidualDwPw(channels, dw_activation="relu6") for _ in range(blocks)))


class PoseLandmarks(LandmarkNetwork):
    input_size = 256
    outputs = ("landmarks", "pose_flag", "segmentation", "heatmap", "world_landmarks")

    def __init__(self) -> None:
        super().__init__()
        self.stage128 = nn.Sequential(
            Conv(3, 24, 3, 2, padding=1, activation="relu6"),
            IR(24, 16, 3),
        )
        self.skip128 = skip(16, 8)
        self.stage64 = nn.Sequential(
            IR(16, 24, 3, 2, expanded=64, padding=1),
            IR(24, 24, 3, expanded=144),
        )
        self.skip64 = skip(24, 48)
        self.stage32 = nn.Sequential(
            IR(24, 32, 5, 2, expanded=144, padding=2),
            IR(32, 32, 5, expanded=192),
        )
        self.skip32 = skip(32, 48)
        self.stage16 = nn.Sequential(
            IR(32, 64, 3, 2, expanded=192, padding=1),
            IR(64, 64, 3, expanded=384),
            IR(64, 64, 3, expanded=384),
            IR(64, 88, 5, expanded=384),
            IR(88, 88, 5, expanded=528),
            IR(88, 88, 5, expanded=528),
        )
        self.skip16 = skip(88, 48)
        self.stage8 = nn.Sequential(
            IR(88, 144, 5, 2, expanded=528, padding=2),
            IR(144, 144, 5, expanded=864),
            IR(144, 144, 5, expanded=864),
            IR(144, 144, 5, expanded=864),
            pw(144, 864, "relu6"),
            dw(864, 3, activation="relu6"),
        )
        # Decoder (registered before the regression branch, as the .tflite orders them).
        self.top8 = skip(864, 48)
        self.heatmap = pw(48, 39)
        self.segmentation_in = skip(48, 8)
        self.refine128 = refine(8, 2)
        self.refine256 = refine(8, 2)
        self.segmentation = Conv(8, 1, 3)
        # Regression branch.
        self.regression = nn.Sequential(
            skip(864, 288),
            PoolResidual(288),
            refine(288, 4),
            PoolResidual(288),
            refine(288, 5),
        )
        self.landmarks = Conv(288, 195, 2, padding="valid")
        self.world_landmarks = Conv(288, 117, 2, padding="valid")
        self.pose_flag = Conv(288, 1, 2, padding="valid")

    def compute(self, x: Tensor) -> tuple[Tensor, ...]:
        c128 = self.stage128(x)
        c64 = self.stage64(c128)
        c32 = self.stage32(c64)
        c16 = self.stage16(c32)
        c8 = self.stage8(c16)
        d16 = upsample2x(self.top8(c8)) + self.skip16(c16)
        d32 = upsample2x(d16) + self.skip32(c32)
        d64 = upsample2x(d32) + self.skip64(c64)
        d128 = self.refine128(upsample2x(self.segmentation_in(d64)) + self.skip128(c128))
        segmentation = self.segmentation(self.refine256(upsample2x(d128)))
        features = self.regression(c8)
        return (
            self.landmarks(features).flatten(1),
            torch.sigmoid(self.pose_flag(features)).flatten(1),
            segmentation.permute(0, 2, 3, 1),
            self.heatmap(d64).permute(0, 2, 3, 1),
            self.world_landmarks(features).flatten(1),
        )
