"""The fast path's oneDNN convolution, called directly with weights packed once per input shape.

This is FusedConv's oneDNN path (rtnet.models.layers) with less bookkeeping per call: a pose
landmark frame makes about a hundred small convolutions, where FusedConv's per-call checks and
the operator lookup came to about 1 ms of the frame on one thread. CPUs with oneDNN's fused
kernels only; elsewhere the networks keep FusedConv.
"""

from __future__ import annotations

import torch
from torch import Tensor

_CONVOLUTION = torch.ops.mkldnn._convolution_pointwise.default  # resolved once, not per call
_CONVOLUTION_ADD = torch.ops.mkldnn._convolution_pointwise.binary
_DILATION = [1, 1]
_RELU6 = [0.0, 6.0]
_NO_SCALARS: list[float] = []


class PackedConv:
    """relu6?(conv(x)), or conv(x) + residual, in ``dtype``, for channels-last inputs."""

    def __init__(
        self,
        weight: Tensor,
        bias: Tensor,
        *,
        stride: int,
        padding: int,
        groups: int,
        dtype: torch.dtype,
    ) -> None:
        self.weight, self.bias = weight, bias
        self.stride, self.padding, self.groups = [stride, stride], [padding, padding], groups
        self.dtype = dtype
        self._source: tuple[int, ...] = ()
        self._packed: dict[tuple[int, ...], Tensor] = {}  # by input shape
        self._bias = bias

    def __call__(self, x: Tensor, *, relu6: bool, residual: Tensor | None = None) -> Tensor:
        weight = self._packed_for(tuple(x.shape))
        if residual is not None:  # the add as a post-op: one pass over the output
            return _CONVOLUTION_ADD(
                x, residual, weight, self._bias, self.padding, self.stride, _DILATION,
                self.groups, "add", None, None, _NO_SCALARS, None,
            )  # fmt: skip
        if relu6:
            return _CONVOLUTION(
                x, weight, self._bias, self.padding, self.stride, _DILATION, self.groups,
                "hardtanh", _RELU6, "",
            )  # fmt: skip
        return _CONVOLUTION(
            x, weight, self._bias, self.padding, self.stride, _DILATION, self.groups,
            "none", _NO_SCALARS, "",
        )  # fmt: skip

    def _packed_for(self, shape: tuple[int, ...]) -> Tensor:
        weight, bias = self.weight, self.bias
        source = (weight._version, weight.data_ptr(), bias._version, bias.data_ptr())
        if source != self._source:  # new weights (or a first call): pack again
            self._source, self._packed = source, {}
            self._bias = bias.detach().to(self.dtype)
        packed = self._packed.get(shape)
        if packed is None:
            # oneDNN's blocked layout depends on the input shape (see FusedConv); torch's stub
            # lacks the optional input_size argument the op takes.
            packed = torch._C._nn.mkldnn_reorder_conv2d_weight(  # type: ignore[call-arg]
                weight.detach().to(self.dtype).to_mkldnn(),
                self.padding,
                self.stride,
                _DILATION,
                self.groups,
                list(shape),
            )
            self._packed[shape] = packed
        return packed
