"""The two SenseKit streaming backbones, each defined by one table of layers.

A call takes (T, 3, 256, 256) float32 frames in [0, 1] in the backbone's channel order
(``channels``), in time order, T a multiple of ``STEP_FRAMES`` (at 16 fps), and returns
(T/4, 1280, 8, 8) features; temporal state carries over between calls.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from rtnet.errors import ConfigError
from rtnet.models.checkpoint import Signature, signature_of
from rtnet.models.layers import ConvReLU, FusedConv, InvertedResidual, TemporalConv
from rtnet.network import Channels
from rtnet.precision import Precision
from rtnet.resample import STEP_FRAMES

BackboneName = Literal["efficientnet", "mobilenet"]

FEATURES = 1280
BF16_MAX_DOWNSAMPLING = 8  # bf16 fast path: layers whose input is at least 1/8 of 256x256


@dataclass(frozen=True)
class Conv:
    """ConvReLU(in, out, k, stride)."""

    in_channels: int
    out_channels: int
    kernel: int
    stride: int = 1

    def build(self) -> nn.Module:
        return ConvReLU.spatial(self.in_channels, self.out_channels, self.kernel, self.stride)


@dataclass(frozen=True)
class IR:
    """InvertedResidual(in, out, k, s, e, shift, tstride, sparse)."""

    in_channels: int
    out_channels: int
    kernel: int = 3
    stride: int = 1
    expand: float = 6
    shift: bool = False
    tstride: bool = False
    sparse: bool = False

    def build(self) -> nn.Module:
        return InvertedResidual(
            self.in_channels,
            self.out_channels,
            self.kernel,
            self.stride,
            self.expand,
            self.shift,
            self.tstride,
            self.sparse,
        )


Layer = Conv | IR

# StridedInflatedMobileNetV2 ("simn"): sparse temporal shifts, k=3 everywhere.
MOBILENET_V2: tuple[Layer, ...] = (
    Conv(3, 32, 3, stride=2),
    IR(32, 16, expand=1),
    IR(16, 24, stride=2),
    IR(24, 24, shift=True, sparse=True),
    IR(24, 32, stride=2),
    IR(32, 32, shift=True, tstride=True, sparse=True),
    IR(32, 32),
    IR(32, 64, stride=2),
    IR(64, 64, shift=True, sparse=True),
    IR(64, 64),
    IR(64, 64, shift=True, tstride=True, sparse=True),
    IR(64, 96),
    IR(96, 96, shift=True, sparse=True),
    IR(96, 96, shift=True, sparse=True),
    IR(96, 160, stride=2),
    IR(160, 160, shift=True, sparse=True),
    IR(160, 160, shift=True, sparse=True),
    IR(160, 320),
    Conv(320, 1280, 1),
)

# StridedInflatedEfficientNet ("sien"): dense temporal convolutions, mixed 3x3/5x5 kernels.
EFFICIENTNET: tuple[Layer, ...] = (
    Conv(3, 32, 3, stride=2),
    IR(32, 24, 3, expand=1),
    IR(24, 32, 3, stride=2),
    IR(32, 32, 3, shift=True),
    IR(32, 32, 3),
    IR(32, 32, 3),
    IR(32, 56, 5, stride=2),
    IR(56, 56, 5, shift=True, tstride=True),
    IR(56, 56, 5),
    IR(56, 56, 5),
    IR(56, 112, 3, stride=2),
    IR(112, 112, 3, shift=True),
    IR(112, 112, 3),
    IR(112, 112, 3),
    IR(112, 112, 3, shift=True, tstride=True),
    IR(112, 112, 3),
    IR(112, 160, 5),
    IR(160, 160, 5, shift=True),
    IR(160, 160, 5),
    IR(160, 160, 5),
    IR(160, 160, 5, shift=True),
    IR(160, 160, 5),
    IR(160, 272, 5, stride=2),
    IR(272, 272, 5, shift=True),
    IR(272, 272, 5),
    IR(272, 272, 5, shift=True),
    *[IR(272, 272, 5)] * 4,
    IR(272, 448, 3),
    Conv(448, 1280, 1),
)


def _spatial_stride(layer: nn.Module) -> int:
    if isinstance(layer, InvertedResidual):
        return layer.spatial_stride
    conv = layer[0] if isinstance(layer, ConvReLU) else layer
    return int(conv.stride[0]) if isinstance(conv, nn.Conv2d) else 1


def bf16_supported(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes bf16 natively; on a CPU that means avx512_bf16 or AMX (emulated
    bf16 is slower than fp32)."""
    if torch.device(device).type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


class StreamingBackbone(nn.Module):
    """A backbone built from a layer table; ``reset()`` starts a new stream.

    ``fast`` and ``precision`` change how it computes, not what (fp32 fast stays within 1e-4 of
    the plain path). Plain: the eager reference, NCHW, state by concatenation, bf16 by autocast.
    Fast: channels-last activations, preallocated temporal windows, inference mode, fused
    oneDNN convolutions (see FusedConv), the first layers one frame at a time, and with bf16
    its own mixed precision (see ``_fast_dtype``).
    """

    # The channel order of the frames the weights were trained on (each backbone says its own).
    channels: ClassVar[Channels]

    def __init__(self, layers: Sequence[Layer]) -> None:
        super().__init__()
        self.cnn = nn.Sequential(*(layer.build() for layer in layers))
        self.fast = False
        self.precision: Precision = "fp32"
        self.autocast = False  # plain path in bf16
        self.input_dtype = torch.float32  # fast path: dtype of the first layer
        self.per_frame_layers = 0  # fast path: layers run one frame at a time

    def temporal_layers(self) -> Iterator[TemporalConv]:
        return (m for m in self.modules() if isinstance(m, TemporalConv))

    def configure(self, *, fast: bool, precision: Precision) -> StreamingBackbone:
        """Select the execution path; raises ConfigError for bf16 on a CPU without native bf16."""
        if precision not in ("fp32", "bf16"):
            raise ConfigError(f"unknown precision {precision!r}: use fp32 or bf16")
        device = next(self.parameters()).device
        if precision == "bf16" and not bf16_supported(device):
            needs = (
                "a CPU with native bf16 (avx512_bf16 or amx_bf16); this one has neither"
                if device.type == "cpu"
                else f"a {device.type} device with bf16 support; this one has none"
            )
            raise ConfigError(f"precision bf16 needs {needs}: use fp32")
        self.fast, self.precision = fast, precision
        self.to(memory_format=torch.channels_last if fast else torch.contiguous_format)
        for temporal in self.temporal_layers():
            temporal.preallocate = fast
        # The plain path takes bf16 through autocast; the fast path through its own kernels.
        self.autocast = precision == "bf16" and not fast
        for index, layer in enumerate(self.cnn):
            dtype = self._fast_dtype(index)
            for module in layer.modules():
                if isinstance(module, ConvReLU):
                    module.fused = FusedConv.of(module[0], dtype) if fast else None
                elif isinstance(module, InvertedResidual):
                    module.project = FusedConv.of(module.conv[-1], dtype) if fast else None
        self.input_dtype = self._fast_dtype(0)
        self.per_frame_layers = self._first_time_stride() if fast else 0
        self.reset()
        return self

    def _fast_dtype(self, index: int) -> torch.dtype:
        """Fast path, bf16: bf16 for the layers that see large activations (inputs of 32x32 and
        more), which hold most of the arithmetic and memory traffic; fp32 for the small late
        layers, which cost little and where rounding moves the head outputs most. On the
        reference video with stand-in weights, top-1 then agrees with fp32 on 16/16 steps for
        both networks (all layers in bf16: 15/16 efficientnet, 9/16 mobilenet), for 10-25%
        more time than all-bf16."""
        if self.precision != "bf16":
            return torch.float32
        downsampling = math.prod(_spatial_stride(layer) for layer in self.cnn[:index])
        return torch.bfloat16 if downsampling <= BF16_MAX_DOWNSAMPLING else torch.float32

    def _first_time_stride(self) -> int:
        """Index of the first layer that halves the frame rate (0 if none)."""
        for index, layer in enumerate(self.cnn):
            if isinstance(layer, InvertedResidual) and layer.time_stride > 1:
                return index
        return 0

    def reset(self) -> None:
        """Clear the temporal state (a new video, or the camera restarted)."""
        for layer in self.temporal_layers():
            layer.reset()

    def forward(self, frames: Tensor) -> Tensor:
        if frames.dim() != 4 or frames.shape[1] != 3 or frames.shape[0] % STEP_FRAMES:
            raise ValueError(
                f"expected (T, 3, H, W) frames, T a multiple of {STEP_FRAMES}, "
                f"got {tuple(frames.shape)}"
            )
        with self._context():
            if not self.fast:
                features: Tensor = self.cnn(frames)
            else:
                frames = frames.to(dtype=self.input_dtype, memory_format=torch.channels_last)
                features = self._fast_forward(frames)
        return features.float().contiguous()

    def _fast_forward(self, frames: Tensor) -> Tensor:
        # Up to the first time stride, frames go through one at a time: the activations are 4x
        # smaller, so they stay in cache longer and under glibc's mmap threshold (fresh mmapped
        # buffers cost a page fault per 4 KiB on every call: ~17 ms per 37 MB activation here).
        # Temporal layers stream frame by frame exactly as over the whole clip.
        split = self.per_frame_layers
        x = frames
        if split:
            head = self.cnn[:split]
            x = torch.cat([head(frame) for frame in frames.split(1)])
        for layer in self.cnn[split:]:
            x = layer(x)
        return x

    def _context(self) -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        # State must never record autograd history; inference mode also skips version counters.
        stack.enter_context(torch.inference_mode() if self.fast else torch.no_grad())
        if self.autocast:
            device_type = next(self.parameters()).device.type
            stack.enter_context(torch.autocast(device_type, dtype=torch.bfloat16))
        return stack


class StridedInflatedEfficientNet(StreamingBackbone):
    """SenseKit's ``sien`` backbone."""

    # SenseKit trained on OpenCV's BGR frames: the original implementation only scales and
    # transposes, and pipeline.npz is reproduced only that way (the reference README's BGR->RGB
    # step is off by up to 0.25 in probability).
    channels: ClassVar[Channels] = "bgr"

    def __init__(self) -> None:
        super().__init__(EFFICIENTNET)


class StridedInflatedMobileNetV2(StreamingBackbone):
    """SenseKit's ``simn`` backbone."""

    channels: ClassVar[Channels] = "bgr"  # as StridedInflatedEfficientNet

    def __init__(self) -> None:
        super().__init__(MOBILENET_V2)


BACKBONES: dict[str, Callable[[], StreamingBackbone]] = {
    "efficientnet": StridedInflatedEfficientNet,
    "mobilenet": StridedInflatedMobileNetV2,
}


@functools.cache
def backbone_signature(name: BackboneName) -> Signature:
    """State-dict keys and shapes a checkpoint of ``name`` must have (built without weights)."""
    with torch.device("meta"):
        return signature_of(BACKBONES[name]())
