"""The fast path's convolutions on maps of a few pixels, as matrix products.

The pose landmark network's regression branch runs two dozen convolutions on 4x4 and 2x2 maps,
where a oneDNN call costs ~25 us of set-up on one thread and ~100 us on two: over 2 ms a frame
for a few hundred thousand multiply-adds. Here a 1x1 convolution is one matrix product over the
pixels; a depthwise one, per channel, a weighted sum over the input pixels with a weight for each
(output pixel, input pixel) pair; any other, one matrix product over the whole map. Those tables
are the convolution applied to one-hot images: exactly its weights, and zeros, laid out for one
input shape. Only the order of the sums differs from a convolution's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Up to these sizes the products beat oneDNN's calls (above, its kernels win or tables grow).
MAX_POINTWISE_PIXELS = 16  # 1x1: pixels of the map
MAX_DEPTHWISE_PAIRS = 256  # depthwise: output pixels x input pixels
MAX_DENSE_WEIGHTS = 1 << 20  # others: entries of the whole-map matrix

Kind = Literal["pointwise", "depthwise", "dense"]


@dataclass(frozen=True)
class Plan:
    table: Tensor  # pointwise (Cin, Cout); depthwise (P, Q, C); dense (Q * Cin, P * Cout)
    bias: Tensor  # pointwise and depthwise (Cout,); dense (P * Cout,)
    height: int  # of the output
    width: int


_UNSEEN = Plan(torch.empty(0), torch.empty(0), 0, 0)  # no plan made yet for a shape


class SmallConv:
    """``conv`` (after the F.pad ``pad``) on channels-last maps of a few pixels, in ``dtype``."""

    def __init__(self, conv: nn.Conv2d, pad: tuple[int, int, int, int], dtype: torch.dtype) -> None:
        self.conv, self.pad, self.dtype = conv, pad, dtype
        pointwise = (
            conv.kernel_size == (1, 1)
            and conv.stride == (1, 1)
            and conv.groups == 1
            and not any(pad)
            and conv.padding == (0, 0)
        )
        depthwise = conv.groups == conv.in_channels == conv.out_channels
        self.kind: Kind = "pointwise" if pointwise else "depthwise" if depthwise else "dense"
        self._plans: dict[tuple[int, ...], Plan | None] = {}  # by input shape
        self._source: tuple[int, ...] = ()

    def plan(self, shape: tuple[int, ...]) -> Plan | None:
        """How to compute for inputs of ``shape``, or None: not small enough, use oneDNN."""
        plan = self._plans.get(shape, _UNSEEN)
        if plan is None:  # a matter of shapes only: no need to look at the weights
            return None
        weight, bias = self.conv.weight, self.conv.bias
        assert bias is not None
        source = (weight._version, weight.data_ptr(), bias._version, bias.data_ptr())
        if source != self._source:  # new weights: new tables
            self._source = source
            self._plans = {s: p for s, p in self._plans.items() if p is None}
            plan = _UNSEEN
        if plan is _UNSEEN:
            plan = self._plans[shape] = self._prepare(shape)
        return plan

    def __call__(
        self, x: Tensor, plan: Plan, *, relu6: bool, residual: Tensor | None = None
    ) -> Tensor:
        """relu6?(conv(x) + residual?), channels-last like ``x``."""
        n, channels, height, width = x.shape
        pixels = x.permute(0, 2, 3, 1)  # (N, H, W, C): contiguous when x is channels-last
        if self.kind == "pointwise":
            y = torch.addmm(plan.bias, pixels.reshape(-1, channels), plan.table)
        elif self.kind == "depthwise":
            products = pixels.reshape(n, 1, height * width, channels) * plan.table
            y = products.sum(2).add_(plan.bias)
        else:
            y = torch.addmm(plan.bias, pixels.reshape(n, -1), plan.table)
        out = y.view(n, plan.height, plan.width, -1)
        if residual is not None:
            out.add_(residual.permute(0, 2, 3, 1))
        if relu6:
            out.clamp_(0.0, 6.0)
        return out.permute(0, 3, 1, 2)

    def _prepare(self, shape: tuple[int, ...]) -> Plan | None:
        _, channels, height, width = shape
        conv = self.conv
        weight, bias = conv.weight.detach(), conv.bias
        assert bias is not None
        bias = bias.detach().to(self.dtype)
        pixels = height * width
        if self.kind == "pointwise":
            if pixels > MAX_POINTWISE_PIXELS:
                return None
            table = weight.reshape(conv.out_channels, channels).t().to(self.dtype).contiguous()
            return Plan(table, bias, height, width)
        out_height, out_width = (
            (size + before + after + 2 * padding - kernel) // stride + 1
            for size, before, after, padding, kernel, stride in zip(
                (height, width),
                self.pad[2::-2],  # top, left
                self.pad[3::-2],  # bottom, right
                conv.padding,
                conv.kernel_size,
                conv.stride,
                strict=True,
            )
        )
        outputs = out_height * out_width
        if self.kind == "depthwise" and outputs * pixels > MAX_DEPTHWISE_PAIRS:
            return None
        if self.kind == "dense" and pixels * channels * outputs * conv.out_channels > (
            MAX_DENSE_WEIGHTS
        ):
            return None
        # One one-hot image per input entry (pixel, channel), in channels-last order; a
        # depthwise convolution takes all channels of a pixel at once.
        depth = 1 if self.kind == "depthwise" else channels
        eye = torch.eye(pixels * depth, device=weight.device)
        basis = eye.view(-1, height, width, depth).permute(0, 3, 1, 2)
        if self.kind == "depthwise":
            basis = basis.expand(-1, channels, -1, -1)
        responses = F.conv2d(
            F.pad(basis, self.pad), weight.float(), None, conv.stride, conv.padding, 1, conv.groups
        )  # (inputs, Cout, out height, out width); float32: the weights come out exactly
        if self.kind == "depthwise":
            table = responses.permute(2, 3, 0, 1).reshape(outputs, pixels, channels)
        else:
            table = responses.permute(0, 2, 3, 1).reshape(pixels * channels, -1)
            bias = bias.repeat(outputs)
        return Plan(table.to(self.dtype).contiguous(), bias, out_height, out_width)
