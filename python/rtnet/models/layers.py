"""Blocks of the streaming backbones: time runs along the batch axis, state carries over calls.

Module nesting and parameter names follow the original SenseKit networks exactly, so that the
released checkpoint files load strictly (``cnn.<i>.conv.<j>.0.weight`` and so on).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Temporal convolutions see 3 consecutive frames: the current one and the two before it.
TEMPORAL_FOOTPRINT = 3
RELU6 = (0.0, 6.0)


def onednn_available(device: torch.device) -> bool:
    """Whether the fused oneDNN convolution kernels (PyTorch's own, used by inductor) exist here."""
    return (
        device.type == "cpu"
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
    )


class FusedConv:
    """One convolution of the fast path: weights prepared once, activation and residual fused.

    With oneDNN (CPUs): the weights are reordered to oneDNN's blocked layout (and cast to the
    compute dtype) once instead of on every call, ReLU6 and the residual add run as post-ops of
    the convolution instead of extra passes over the activations, and small 1x1 convolutions no
    longer fall to aten's slow generic kernel. Elsewhere (CUDA, or a oneDNN build that lacks
    these kernels): plain ops, activation in place. The prepared weights follow the module's
    parameters (new values, another device): they are rebuilt when those change.
    """

    def __init__(
        self,
        weight: Tensor,
        bias: Tensor,
        *,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.weight, self.bias = weight, bias
        self.stride, self.padding, self.groups = [stride, stride], [padding, padding], groups
        self.dtype = dtype
        self.onednn = False
        self._onednn_works = True  # until a call says otherwise
        self._source: tuple[object, ...] = ()
        self._packed: dict[tuple[int, ...], Tensor] = {}  # by input shape
        self._bias = self._bias_residual = bias

    @classmethod
    def of(cls, conv: nn.Module, dtype: torch.dtype) -> FusedConv:
        if isinstance(conv, TemporalConv):
            return cls(conv.weight, conv.bias, dtype=dtype)
        if not isinstance(conv, nn.Conv2d) or conv.bias is None:
            raise TypeError(f"cannot fuse {conv!r}")
        padding = conv.padding
        assert isinstance(padding, tuple)  # square kernels and strides, as built here
        return cls(
            conv.weight,
            conv.bias,
            stride=conv.stride[0],
            padding=padding[0],
            groups=conv.groups,
            dtype=dtype,
        )

    def __call__(self, x: Tensor, *, relu6: bool, residual: Tensor | None = None) -> Tensor:
        if x.dtype != self.dtype:  # a precision boundary of a mixed-precision network
            x = x.to(self.dtype)
        if residual is not None and residual.dtype != self.dtype:
            residual = residual.to(self.dtype)
        self._refresh()
        if self.onednn:
            try:
                return self._onednn(x, relu6, residual)
            except RuntimeError:
                self._onednn_works = False  # kernels missing here: plain ops from now on
                self._refresh()
        out = F.conv2d(
            x, self._weight_for(x), self._bias, self.stride, self.padding, 1, self.groups
        )
        if relu6:
            out = out.clamp_(*RELU6)
        return out if residual is None else out.add_(residual)

    def _onednn(self, x: Tensor, relu6: bool, residual: Tensor | None) -> Tensor:
        weight = self._weight_for(x)
        if residual is None:
            args = (weight, self._bias, self.padding, self.stride, [1, 1], self.groups)
            unary = ("hardtanh", list(RELU6), "") if relu6 else ("none", [], "")
            return torch.ops.mkldnn._convolution_pointwise(x, *args, *unary)
        # conv(x) + residual (then the activation, if any) in one pass over the output.
        args = (weight, self._bias_residual, self.padding, self.stride, [1, 1], self.groups)
        post = ("hardtanh", list(RELU6), "") if relu6 else (None, [], None)
        return torch.ops.mkldnn._convolution_pointwise.binary(
            x, residual, *args, "add", None, *post
        )

    def _refresh(self) -> None:
        """Prepare again when the parameters changed (or oneDNN turned out to be unusable)."""
        weight, bias, works = self.weight, self.bias, self._onednn_works
        source = (weight._version, weight.data_ptr(), bias._version, bias.data_ptr(), works)
        if source == self._source:
            return
        self._source, self._packed = source, {}
        self.onednn = works and onednn_available(weight.device)
        # oneDNN's bf16 convolutions take an fp32 bias (more precise, and free); its residual
        # (binary) variant and the plain ops want the compute dtype.
        self._bias = bias.detach() if self.onednn else bias.detach().to(self.dtype)
        self._bias_residual = bias.detach().to(self.dtype)

    def _weight_for(self, x: Tensor) -> Tensor:
        shape = tuple(x.shape)
        weight = self._packed.get(shape)
        if weight is None:
            weight = self.weight.detach().to(self.dtype)
            if self.onednn:
                # oneDNN's blocked layout depends on the input shape: packed for another one,
                # the weights would be reordered again on every call (25 ms for the last conv).
                # torch's stub lacks the optional input_size argument the op takes.
                weight = torch._C._nn.mkldnn_reorder_conv2d_weight(  # type: ignore[call-arg]
                    weight.to_mkldnn(), self.padding, self.stride, [1, 1], self.groups, list(shape)
                )
            self._packed[shape] = weight
        return weight


class ConvReLU(nn.Sequential):
    """A convolution (index 0, keys ``.0.weight/.0.bias``) followed by ReLU6."""

    def __init__(self, conv: nn.Module) -> None:
        super().__init__(conv, nn.ReLU6(inplace=True))
        self.fused: FusedConv | None = None  # set on the fast path

    def forward(self, x: Tensor) -> Tensor:
        if self.fused is None:
            return super().forward(x)
        conv = self[0]
        if isinstance(conv, TemporalConv):
            x = conv.gather(x)
        return self.fused(x, relu6=True)

    @classmethod
    def spatial(
        cls, in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1
    ) -> ConvReLU:
        """The common case: a Conv2d with bias and 'same'-style padding (k-1)//2."""
        conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel,
            stride=stride,
            padding=(kernel - 1) // 2,
            groups=groups,
        )
        return cls(conv)


class TemporalConv(nn.Module):
    """A 1x1 convolution over a window of 3 frames (oldest first), streaming over calls.

    Dense: frame i sees the channel concatenation [x[i], x[i+1], x[i+2]] (weight ``(out, 3*in)``).
    Sparse: frame i (aligned with x[i+2]) takes channels [0, C/4) from x[i], [C/4, C/2) from x[i+1]
    and [C/2, C) from x[i+2] (weight ``(out, in, 1, 1)``), a temporal shift.
    ``x`` is the previous call's last ``3 - tstride`` input frames followed by this call's frames;
    it yields one output frame per ``tstride`` input frames.

    Two ways to keep the state, same numbers: ``preallocate=False`` concatenates state and input on
    every call (the plain reference path); ``preallocate=True`` keeps one window buffer per layer,
    copies the input into its tail and shifts the last frames to its head (no per-call allocation).
    """

    def __init__(self, in_channels: int, out_channels: int, tstride: int, sparse: bool) -> None:
        super().__init__()
        if tstride not in (1, 2):
            raise ValueError(f"temporal stride must be 1 or 2, not {tstride}")
        self.in_channels = in_channels
        self.tstride = tstride
        self.sparse = sparse
        self.context = TEMPORAL_FOOTPRINT - tstride  # frames carried over to the next call
        width = in_channels if sparse else TEMPORAL_FOOTPRINT * in_channels
        self.weight = nn.Parameter(torch.empty(out_channels, width, 1, 1))
        self.bias = nn.Parameter(torch.empty(out_channels))
        self.preallocate = False
        self._state: Tensor | None = None  # plain path: the last `context` frames
        self._window: Tensor | None = None  # fast path: [state frames | current input]
        self._init_parameters()

    def _init_parameters(self) -> None:
        # Same default initialisation as nn.Conv2d, for untrained use (benchmarks, tests).
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(self.weight.shape[1])
        nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        kind = "sparse" if self.sparse else "dense"
        return f"{self.in_channels}, {self.weight.shape[0]}, tstride={self.tstride}, {kind}"

    def reset(self) -> None:
        """Forget the past: the next call starts from zero frames, as at the start of a stream."""
        self._state = None
        self._window = None

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(self.gather(x), self.weight, self.bias)

    def gather(self, x: Tensor) -> Tensor:
        """The frames the 1x1 convolution sees (3-frame windows), updating the state."""
        window = self._fill_window(x) if self.preallocate else self._concat_window(x)
        frames = self._shift(window) if self.sparse else self._stack(window)  # fresh tensors
        if self.preallocate:
            self._carry_over(window)
        return frames

    def _zeros(self, x: Tensor, frames: int) -> Tensor:
        return torch.zeros((frames, *x.shape[1:]), dtype=x.dtype, device=x.device).contiguous(
            memory_format=_memory_format(x)
        )

    def _concat_window(self, x: Tensor) -> Tensor:
        state = self._state
        if state is None or state.shape[1:] != x.shape[1:]:
            state = self._zeros(x, self.context)
        window = torch.cat([state.to(x.dtype), x])
        self._state = window[-self.context :]
        return window

    def _fill_window(self, x: Tensor) -> Tensor:
        size = self.context + x.shape[0]
        window = self._window
        if (
            window is None
            or window.shape[0] != size
            or window.shape[1:] != x.shape[1:]
            or window.dtype != x.dtype
            or window.device != x.device
        ):
            # (Re)allocate, keeping the carried-over frames when only the call length changed.
            fresh = self._zeros(x, size)
            if window is not None and window.shape[1:] == x.shape[1:]:
                fresh[: self.context].copy_(window[: self.context])
            window = self._window = fresh
        window[self.context :].copy_(x)
        return window

    def _carry_over(self, window: Tensor) -> None:
        tail = window[-self.context :]
        if window.shape[0] < 2 * self.context:  # head and tail overlap: copy via a temporary
            tail = tail.clone()
        window[: self.context].copy_(tail)

    def _stack(self, window: Tensor) -> Tensor:
        # Output i = [x[i], x[i+1], x[i+2]] for i = 0, t, 2t, ... (first window kept).
        size, t = window.shape[0], self.tstride
        return torch.cat(
            [window[0 : size - 2 : t], window[1 : size - 1 : t], window[2:size:t]], dim=1
        )

    def _shift(self, window: Tensor) -> Tensor:
        # Candidates are aligned with x[2..]; keep the last one and every t-th before it.
        size, t = window.shape[0], self.tstride
        candidates = size - 2
        first = (candidates - 1) % t
        quarter, half = self.in_channels // 4, self.in_channels // 2
        return torch.cat(
            [
                window[first:candidates:t, :quarter],
                window[first + 1 : candidates + 1 : t, quarter:half],
                window[first + 2 : candidates + 2 : t, half:],
            ],
            dim=1,
        )


class InvertedResidual(nn.Module):
    """MobileNetV2 block (expand 1x1 -> depthwise kxk -> project 1x1), optionally temporal.

    With ``shift`` the expansion is a temporal convolution (dense, or sparse with ``sparse``);
    with ``tstride`` it halves the frame rate. The residual input is realigned in time with the
    output frames: the last input frames, or with ``tstride`` those at positions -1, -3, -5, ...
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int = 3,
        stride: int = 1,
        expand: float = 1,
        shift: bool = False,
        tstride: bool = False,
        sparse: bool = False,
    ) -> None:
        super().__init__()
        hidden = round(in_channels * expand)
        temporal = shift and expand != 1
        if (tstride or sparse) and not temporal:
            raise ValueError("tstride/sparse need a temporal (shift) expansion")
        self.time_stride = 2 if tstride else 1
        self.spatial_stride = stride
        layers: list[nn.Module] = []
        if expand != 1:
            expansion: nn.Module = (
                TemporalConv(in_channels, hidden, self.time_stride, sparse)
                if temporal
                else nn.Conv2d(in_channels, hidden, 1)
            )
            layers.append(ConvReLU(expansion))
        layers += [
            ConvReLU.spatial(hidden, hidden, kernel, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and in_channels == out_channels
        self.project: FusedConv | None = None  # fast path: projection with the residual fused

    def forward(self, x: Tensor) -> Tensor:
        if self.project is None:
            out: Tensor = self.conv(x)
            return out + self._aligned(x, out.shape[0]) if self.residual else out
        hidden = x
        for layer in self.conv[:-1]:
            hidden = layer(hidden)
        residual = self._aligned(x, hidden.shape[0]) if self.residual else None
        return self.project(hidden, relu6=False, residual=residual)

    def _aligned(self, x: Tensor, produced: int) -> Tensor:
        """Input frames aligned with the output frames: the last one and every t-th before it."""
        t = self.time_stride
        return x[x.shape[0] - 1 - t * (produced - 1) :: t]


def _memory_format(x: Tensor) -> torch.memory_format:
    """Buffers keep the layout of the activations (channels-last on the fast path)."""
    if (
        x.dim() == 4
        and not x.is_contiguous()
        and x.is_contiguous(memory_format=torch.channels_last)
    ):
        return torch.channels_last
    return torch.contiguous_format
