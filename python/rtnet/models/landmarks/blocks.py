"""Layers of MediaPipe's pose and hand networks, computing exactly what their TFLite ops compute.

The networks run NCHW inside; ``LandmarkNetwork`` permutes at the boundary so that a model takes
and returns the same NHWC tensors as its ``.tflite`` file. Padding follows TensorFlow: ``same``
pads ``k - 1`` in total for stride 1 and, for stride 2 on the even sizes these networks use,
``k - 2`` split with the larger half after (bottom/right), which no Conv2d padding expresses.
"""

from __future__ import annotations

import functools
from typing import Literal

import torch
import torch.fx
import torch.nn.functional as F
from torch import Tensor, nn

from rtnet.models.landmarks.packed_conv import PackedConv
from rtnet.models.landmarks.small_conv import SmallConv
from rtnet.models.layers import FusedConv, onednn_available

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
        self.fused: PackedConv | FusedConv | None = None  # the fast path's convolution
        self.small: SmallConv | None = None  # the fast path's kernel for maps of a few pixels
        self.ones: Tensor | None = None  # fast single-output conv: sums the per-channel products

    def prepare(self, *, fast: bool, dtype: torch.dtype) -> None:
        """Set up the fast path's kernels, weights in ``dtype`` (or drop them: plain)."""
        self.fused = self.small = self.ones = None
        if not fast:
            return
        conv = self.conv
        self.small = SmallConv(conv, (0, 0, 0, 0) if self.symmetric else self.pad, dtype)
        weight, bias, groups = conv.weight, conv.bias, conv.groups
        channels, padding, device = conv.in_channels, conv.padding, weight.device
        assert bias is not None and isinstance(padding, tuple)  # as built above
        if conv.out_channels == 1 and groups == 1 and channels > 1:
            # oneDNN has no good kernel for a single output channel (1.4 ms for the pose
            # segmentation's 8 -> 1 3x3 at 256x256): a depthwise convolution forms the products
            # of each input channel, a matrix-vector product sums them (0.4 ms).
            weight = weight.view(channels, 1, *conv.kernel_size)  # follows the weight's updates
            bias = torch.zeros(channels, dtype=dtype, device=device)
            groups = channels
            self.ones = torch.ones(channels, dtype=dtype, device=device)
        kernel = PackedConv if onednn_available(device) else FusedConv
        self.fused = kernel(
            weight, bias, stride=conv.stride[0], padding=padding[0], groups=groups, dtype=dtype
        )

    def forward(
        self, x: Tensor, residual: Tensor | None = None, *, then: Activation = "none"
    ) -> Tensor:
        """activation(conv(x)), or with a residual (a linear conv): then(conv(x) + residual)."""
        if self.small is not None:
            plan = self.small.plan(tuple(x.shape))
            if plan is not None:
                relu6 = (self.activation if residual is None else then) == "relu6"
                return self.small(x, plan, relu6=relu6, residual=residual)
        if not self.symmetric:
            x = F.pad(x, self.pad)
        if self.fused is None:
            y = activate(self.conv(x), self.activation)
            return y if residual is None else activate(y + residual, then)
        if self.ones is not None:
            return activate(self._sum_channels(self.fused(x, relu6=False)), self.activation)
        if residual is None:
            return self.fused(x, relu6=self.activation == "relu6")
        y = self.fused(x, relu6=False, residual=residual)
        return y.clamp_(0.0, 6.0) if then == "relu6" else y

    def _sum_channels(self, products: Tensor) -> Tensor:
        """(N, C, H, W) channels-last -> (N, 1, H, W): the sum over channels, plus the bias."""
        assert self.ones is not None and self.conv.bias is not None
        n, c, h, w = products.shape
        rows = products.permute(0, 2, 3, 1).reshape(-1, c)  # a view when channels-last
        summed = torch.addmv(self.conv.bias, rows, self.ones)
        return summed.view(n, h, w, 1).permute(0, 3, 1, 2)


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


def upsample2x(x: Tensor, *, fast: bool = False) -> Tensor:
    """RESIZE_BILINEAR to twice the size, align_corners=False and half_pixel_centers=True (the
    options every resize of these networks has), which is PyTorch's align_corners=False.

    ``fast`` (channels-last, the fast path): maps of few channels go through a depthwise
    transposed convolution of the edge-padded map instead; PyTorch's channels-last kernel
    vectorises over channels and takes 0.7 ms for 8 at 128x128, this 0.25 ms.
    """
    channels = x.shape[1]
    if fast and channels < 16:
        # Output 2i is 0.25 x[i-1] + 0.75 x[i] and 2i+1 is 0.75 x[i] + 0.25 x[i+1] along each
        # axis, with x[-1] = x[0] and x[n] = x[n-1] at the edges: the padding.
        kernel = bilinear_kernel(channels, x.dtype, x.device)
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
        return F.conv_transpose2d(padded, kernel, stride=2, padding=3, groups=channels)
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


@functools.cache
def bilinear_kernel(channels: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The (channels, 1, 4, 4) weight of a 2x bilinear upsampling as a transposed convolution."""
    taps = torch.tensor([0.25, 0.75, 0.75, 0.25])  # exact in bf16 and their products too
    weight = (taps[:, None] * taps[None, :]).expand(channels, 1, 4, 4)
    return weight.to(dtype=dtype, device=device).contiguous()


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


# Shape arithmetic stays opaque to torch.fx, which the converter uses to read the data flow.
torch.fx.wrap("depth_to_space")
torch.fx.wrap("anchors_last")
