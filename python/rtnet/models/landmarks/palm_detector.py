"""MediaPipe's full palm detector (palm_detection_full.tflite): 192x192 [0, 1] -> 2016 anchors.

BlazeBlocks down to 6x6, a top-down path back to 12x12 and 24x24, and a classifier and a box
regressor at each of those two scales (2 anchors per cell at 24, 6 at 12).
Outputs: boxes (N, 2016, 18) = box + 7 keypoints in input pixels relative to the anchors, and
score logits (N, 2016, 1).
"""

from __future__ import annotations

import torch
import torch.fx
from torch import Tensor, nn

from rtnet.models.landmarks.blocks import BlazeBlock, Conv, UpProject, anchors_last, pw
from rtnet.models.landmarks.network import LandmarkNetwork


def stage(in_channels: int, out_channels: int) -> nn.Sequential:
    """A stride-2 BlazeBlock then four that keep the shape."""
    return nn.Sequential(
        BlazeBlock(in_channels, out_channels, stride=2),
        *(BlazeBlock(out_channels, out_channels) for _ in range(4)),
    )


class PalmDetector(LandmarkNetwork):
    input_size = 192
    outputs = ("boxes", "scores")

    def __init__(self) -> None:
        super().__init__()
        self.stage96 = nn.Sequential(
            Conv(3, 32, 5, 2),
            nn.PReLU(32),
            *(BlazeBlock(32, 32) for _ in range(4)),
        )
        self.stage48 = stage(32, 64)
        self.stage24 = stage(64, 128)
        self.stage12 = stage(128, 256)
        self.stage6 = stage(256, 256)
        self.up12 = UpProject(256, 256)
        self.refine12 = nn.Sequential(BlazeBlock(256, 256), BlazeBlock(256, 256))
        self.classifier12 = pw(256, 6)
        self.regressor12 = pw(256, 6 * 18)
        self.up24 = UpProject(256, 128)
        self.refine24 = nn.Sequential(BlazeBlock(128, 128), BlazeBlock(128, 128))
        self.classifier24 = pw(128, 2)
        self.regressor24 = pw(128, 2 * 18)

    def compute(self, x: Tensor) -> tuple[Tensor, ...]:
        c24 = self.stage24(self.stage48(self.stage96(x)))
        c12 = self.stage12(c24)
        p12 = self.refine12(c12 + self.up12(self.stage6(c12)))
        p24 = self.refine24(c24 + self.up24(p12))
        boxes = (anchors_last(self.regressor24(p24), 18), anchors_last(self.regressor12(p12), 18))
        scores = (anchors_last(self.classifier24(p24), 1), anchors_last(self.classifier12(p12), 1))
        return torch.cat(boxes, dim=1), torch.cat(scores, dim=1)


# Single operations to torch.fx (wrap works per module that calls them): the kernel-program
# lowering runs depth-to-space itself; the converter reads the data flow around them.
torch.fx.wrap("anchors_last")
