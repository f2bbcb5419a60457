"""Layers of MediaPipe's pose and hand networks, computing exactly what their TFLite ops compute.

The networks run NCHW inside; ``LandmarkNetwork`` permutes at the boundary so that a model takes
and returns the same NHWC tensors as its ``.tflite`` file. Padding follows TensorFlow: ``same``
pads ``k - 1`` in total for stride 1 and, for stride 2 on the even sizes these networks use,
``k - 2`` split with the larger half after (bottom/right), which no Conv2d padding expresses.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rtnet.models.layers import FusedConv

Activation = Literal["none", "relu6"]
# 'same' or 'valid' as in TFLite, or an int: a symmetric PAD op followed by a 'valid' convolution.
Padding = Literal["same", "valid"] | int


def same_padding(kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding (before, after) of one even-sized spatial axis."""
    total = kernel - stride if stride > 1 else kernel - 1
    return total // 2, total - total // 2


def activate(x: Tensor, activation: Activation) -> Tensor:
    return x.clamp(0.0, 6.0) if activation == "relu6" else x


class Conv(nn.Module):
    """CONV_2D or DEPTHWISE_CONV_2D (``depthwise=True``) with TFLite's padding and fused
    activation; an explicit PAD before a 'valid' convolution is folded into ``padding``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int = 1,
        stride: int = 1,
        *,
        depthwise: bool = False,
        padding: Padding = "same",
        activation: Activation = "none",
    ) -> None:
        super().__init__()
        if depthwise and in_channels != out_channels:
            raise ValueError("a depthwise convolution keeps its channel count")
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel,
            stride,
            groups=in_channels if depthwise else 1,
        )
        if isinstance(padding, int):
            before = after = padding
        else:
            before, after = same_padding(kernel, stride) if padding == "same" else (0, 0)
        self.symmetric = before == after
        if self.symmetric:
            self.conv.padding = (before, before)
        self.pad = (before, after, before, after)  # F.pad order: left, right, top, bottom
        self.activation: Activation = activation
        self.fused: FusedConv | None = None  # the channels-last fast path's convolution

    def prepare(self, *, fast: bool, dtype: torch.dtype) -> None:
        """Set up the channels-last fast path's kernel, weights in ``dtype`` (or drop it)."""
        conv = self.conv
        padding = conv.padding
        assert conv.bias is not None and isinstance(padding, tuple)  # as built above
        self.fused = (
            FusedConv(
                conv.weight,
                conv.bias,
                stride=conv.stride[0],
                padding=padding[0],
                groups=conv.groups,
                dtype=dtype,
            )
            if fast
            else None
        )

    def forward(
        self, x: Tensor, residual: Tensor | None = None, *, then: Activation = "none"
    ) -> Tensor:
        """activation(conv(x)), or with a residual: then(activation(conv(x)) + residual)."""
        if not self.symmetric:
            x = F.pad(x, self.pad)
        if self.fused is None:
            y = activate(self.conv(x), self.activation)
            return y if residual is None else activate(y + residual, then)
        if residual is None:
            return self.fused(x, relu6=self.activation == "relu6")
        if self.activation == "none":  # the residual add fused into the convolution
            y = self.fused(x, relu6=False, residual=residual)
        else:
            y = self.fused(x, relu6=True) + residual
        return y.clamp_(0.0, 6.0) if then == "relu6" else y


def dw(
    channels: int,
    kernel: int,
    stride: int = 1,
    activation: Activation = "none",
    padding: Padding = "same",
) -> Conv:
    return Conv(
        channels, channels, kernel, stride, depthwise=True, padding=padding, activation=activation
    )


def pw(in_channels: int, out_channels: int, activation: Activation = "none") -> Conv:
    return Conv(in_channels, out_channels, activation=activation)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand (ReLU6), depthwise (ReLU6), 1x1 project (linear), plus the
    input when the shape is kept. ``expanded=None``: no expansion (the first block)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int = 1,
        expanded: int | None = None,
        padding: Padding = "same",
    ) -> None:
        super().__init__()
        hidden = expanded or in_channels
        self.expand = pw(in_channels, hidden, "relu6") if expanded else None
        self.depthwise = dw(hidden, kernel, stride, "relu6", padding)
        self.project = pw(hidden, out_channels)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = x if self.expand is None else self.expand(x)
        return self.project(self.depthwise(y), x if self.residual else None)


class ResidualDwPw(nn.Module):
    """relu6(x + pw(dw(x))): the refinement block of the pose networks' decoders; the depthwise
    convolution is linear in the detector and ReLU6 in the landmark network."""

    def __init__(self, channels: int, kernel: int = 3, dw_activation: Activation = "none") -> None:
        super().__init__()
        self.depthwise = dw(channels, kernel, activation=dw_activation)
        self.pointwise = pw(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x), x, then="relu6")


class DwPw(nn.Sequential):
    """A depthwise then a 1x1 convolution, each with its own activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int = 3,
        stride: int = 1,
        dw_activation: Activation = "none",
        pw_activation: Activation = "none",
        padding: Padding = "same",
    ) -> None:
        super().__init__(
            dw(in_channels, kernel, stride, dw_activation, padding),
            pw(in_channels, out_channels, pw_activation),
        )


class BlazeBlock(nn.Module):
    """The palm detector's block: prelu(skip(x) + pw(dw(x))). With stride 2 the skip path is a
    2x2 max pool, zero-padded to the new channel count."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = dw(in_channels, 5, stride)
        self.pointwise = pw(in_channels, out_channels)
        self.prelu = nn.PReLU(out_channels)
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def forward(self, x: Tensor) -> Tensor:
        skip = F.max_pool2d(x, 2) if self.stride == 2 else x
        if self.extra_channels:
            skip = F.pad(skip, (0, 0, 0, 0, 0, self.extra_channels))
        return self.prelu(skip + self.pointwise(self.depthwise(x)))


class PoolResidual(nn.Module):
    """relu6(maxpool(x) + pw(dw(x, stride 2))): the pose landmark network's downsampling block."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = dw(channels, 3, 2, "relu6")
        self.pointwise = pw(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x), F.max_pool2d(x, 2), then="relu6")


def upsample2x(x: Tensor) -> Tensor:
    """RESIZE_BILINEAR to twice the size, align_corners=False and half_pixel_centers=True (the
    options every resize of these networks has), which is PyTorch's align_corners=False."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def depth_to_space(x: Tensor, block: int) -> Tensor:
    """TFLite's DEPTH_TO_SPACE on NCHW: channel ``(i * block + j) * C + c`` of a pixel goes to
    offset (i, j) of channel c ("DCR" order; pixel_shuffle uses "CRD")."""
    n, c, h, w = x.shape
    out = c // (block * block)
    x = x.reshape(n, block, block, out, h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(n, out, h * block, w * block)


def anchors_last(x: Tensor, values: int) -> Tensor:
    """(N, A*values, H, W) -> (N, H*W*A, values): the detectors' RESHAPE of an NHWC map."""
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, values)


class UpProject(nn.Module):
    """The palm detector's top-down path: 2x bilinear upsampling, 1x1 convolution, PReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.pointwise = pw(in_channels, out_channels)
        self.prelu = nn.PReLU(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.prelu(self.pointwise(upsample2x(x)))
