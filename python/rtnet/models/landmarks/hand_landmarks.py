"""MediaPipe's full hand landmark network (hand_landmark_full.tflite): 224x224 [0, 1] crop.

A MobileNetV2 encoder to 7x7x1152, global average pooling, and four linear heads.
Outputs: landmarks (N, 63) = 21 x (x, y, z) in input pixels, hand presence (N, 1) and handedness
(N, 1) after their sigmoids, world landmarks (N, 63) in metres.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rtnet.models.landmarks.blocks import Conv, InvertedResidual, dw, pw
from rtnet.models.landmarks.network import LandmarkNetwork

IR = InvertedResidual
FEATURES = 1152


class HandLandmarks(LandmarkNetwork):
    input_size = 224
    outputs = ("landmarks", "presence", "handedness", "world_landmarks")

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            Conv(3, 24, 3, 2, activation="relu6"),
            IR(24, 16, 3),
            IR(16, 24, 3, 2, expanded=64),
            IR(24, 24, 3, expanded=144),
            IR(24, 40, 5, 2, expanded=144),
            IR(40, 40, 5, expanded=240),
            IR(40, 80, 3, 2, expanded=240),
            IR(80, 80, 3, expanded=480),
            IR(80, 80, 3, expanded=480),
            IR(80, 112, 5, expanded=480),
            IR(112, 112, 5, expanded=672),
            IR(112, 112, 5, expanded=672),
            IR(112, 192, 5, 2, expanded=672),
            IR(192, 192, 5, expanded=1152),
            IR(192, 192, 5, expanded=1152),
            IR(192, 192, 5, expanded=1152),
            pw(192, FEATURES, "relu6"),
            dw(FEATURES, 3, activation="relu6"),
        )
        # In the .tflite's order: handedness before presence, landmarks before world landmarks.
        self.handedness = nn.Linear(FEATURES, 1)
        self.presence = nn.Linear(FEATURES, 1)
        self.landmarks = nn.Linear(FEATURES, 63)
        self.world_landmarks = nn.Linear(FEATURES, 63)

    def compute(self, x: Tensor) -> tuple[Tensor, ...]:
        features = self.encoder(x).mean(dim=(2, 3))
        return (
            self.landmarks(features),
            torch.sigmoid(self.presence(features)),
            torch.sigmoid(self.handedness(features)),
            self.world_landmarks(features),
        )
