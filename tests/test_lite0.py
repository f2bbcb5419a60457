"""The built-in lite0 backbone: ImageNet EfficientNet-Lite0 folded and inflated into a streaming
network. On a still video it must compute what the plain 2D network computes on that image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from rich.console import Console
from torch import Tensor

from engine_helpers import write_lossless
from rtnet._core import preprocess
from rtnet.errors import WeightsError
from rtnet.models import TemporalConv
from rtnet.models.lite0 import (
    Lite0Backbone,
    build_lite0,
    fold_lite0,
    imagenet_weights_path,
    lite0_blocks,
    lite0_status,
)
from rtnet.training.backbones import choose_backbone
from rtnet.training.features import Extractor, extract_video

# -- an independent 2D EfficientNet-Lite0, straight from the ImageNet state dict -------------


def _tf_same_pad(x: Tensor, kernel: int, stride: int) -> Tensor:
    """TensorFlow "SAME": total padding max((ceil(n/s)-1)*s + k - n, 0), smaller half first."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


def _bn(x: Tensor, state: dict[str, Tensor], prefix: str) -> Tensor:
    return F.batch_norm(
        x,
        state[f"{prefix}.running_mean"],
        state[f"{prefix}.running_var"],
        state[f"{prefix}.weight"],
        state[f"{prefix}.bias"],
        training=False,
        eps=1e-3,
    )


def lite0_2d_features(state: dict[str, Tensor], images: Tensor) -> Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1280, H/32, W/32), as the TF model computes it."""
    x = (images * 255 - 127) / 128  # EfficientNet-Lite's inception-style normalisation
    x = F.relu6(
        _bn(F.conv2d(_tf_same_pad(x, 3, 2), state["_conv_stem.weight"], stride=2), state, "_bn0")
    )
    strides = {1: 2, 3: 2, 5: 2, 11: 2}  # first block of B0's stages 2, 3, 4 and 6
    index = 0
    while f"_blocks.{index}._depthwise_conv.weight" in state:
        block, inputs = f"_blocks.{index}", x
        if f"{block}._expand_conv.weight" in state:
            x = F.relu6(
                _bn(F.conv2d(x, state[f"{block}._expand_conv.weight"]), state, f"{block}._bn0")
            )
        weight = state[f"{block}._depthwise_conv.weight"]
        stride = strides.get(index, 1)
        x = F.conv2d(
            _tf_same_pad(x, weight.shape[-1], stride), weight, stride=stride, groups=weight.shape[0]
        )
        x = F.relu6(_bn(x, state, f"{block}._bn1"))
        x = _bn(F.conv2d(x, state[f"{block}._project_conv.weight"]), state, f"{block}._bn2")
        if x.shape == inputs.shape:
            x = x + inputs
        index += 1
    return F.relu6(_bn(F.conv2d(x, state["_conv_head.weight"]), state, "_bn1"))


@pytest.fixture(scope="module")
def imagenet_state() -> dict[str, Tensor]:
    return torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def still_image() -> Tensor:
    """A smooth colourful image with a few shapes (not a constant: padding must matter)."""
    generator = torch.Generator().manual_seed(7)
    image = F.interpolate(torch.rand(1, 3, 6, 6, generator=generator), size=256, mode="bicubic")
    image[:, :, 40:100, 150:220] = torch.tensor([0.9, 0.1, 0.2]).view(1, 3, 1, 1)
    image[:, :, 160:230, 30:80] = torch.tensor([0.1, 0.2, 0.8]).view(1, 3, 1, 1)
    return image.clamp(0, 1)


def _cosine(a: Tensor, b: Tensor) -> float:
    return F.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0).item()


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_still_video_matches_the_2d_network(
    imagenet_state: dict[str, Tensor], still_image: Tensor, fast: bool
) -> None:
    expected = lite0_2d_features(imagenet_state, still_image)[0]
    backbone = build_lite0(fast=fast)
    clip = still_image.expand(4, -1, -1, -1).contiguous()
    for call in range(3):  # the first call (zero state) and later ones (state carried over)
        features = backbone(clip)
        assert features.shape == (4, 1280, 8, 8)  # one map per frame
        for frame in features:
            assert _cosine(frame, expected) >= 0.99, f"call {call}"
            # Folding is exact up to float rounding, so in fact it agrees much better.
            assert torch.allclose(frame, expected, atol=1e-3), f"call {call}"


def test_streaming_shape_state_and_reset(still_image: Tensor) -> None:
    backbone = build_lite0()
    generator = torch.Generator().manual_seed(1)
    frames = torch.rand(8, 3, 256, 256, generator=generator)
    first = backbone(frames)
    assert first.shape == (8, 1280, 8, 8)  # no temporal stride: a map per frame, 16 a second
    with pytest.raises(ValueError, match="multiple of 4"):
        backbone(frames[:3])
    backbone.reset()
    again = backbone(frames)
    assert torch.allclose(first, again, atol=1e-5)


def test_temporal_convs_start_as_pass_through(imagenet_state: dict[str, Tensor]) -> None:
    """Inflated expansions see the current frame only; none drops frames."""
    model = Lite0Backbone()
    model.load_state_dict(fold_lite0(imagenet_state), strict=True)
    temporal = [m for m in model.modules() if isinstance(m, TemporalConv)]
    assert len(temporal) == sum(b.tstride is not None for b in lite0_blocks())
    assert {m.tstride for m in temporal} == {1}
    for conv in temporal:
        older = conv.weight[:, : 2 * conv.in_channels]
        assert torch.count_nonzero(older) == 0
        assert torch.count_nonzero(conv.weight[:, 2 * conv.in_channels :]) > 0


def test_block_layout_matches_the_imagenet_weights(imagenet_state: dict[str, Tensor]) -> None:
    blocks = lite0_blocks()
    assert len(blocks) == 16
    for index, block in enumerate(blocks):
        depthwise = imagenet_state[f"_blocks.{index}._depthwise_conv.weight"]
        project = imagenet_state[f"_blocks.{index}._project_conv.weight"]
        assert depthwise.shape == (block.in_channels * block.expand, 1, block.kernel, block.kernel)
        assert project.shape[:2] == (block.out_channels, block.in_channels * block.expand)


def test_unreadable_weights_are_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "lite0.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match=r"corrupt.*reinstall the package efficientnet-lite0"):
        build_lite0(weights=bad)
    with pytest.raises(WeightsError, match=r"lite0 weights file not found.*reinstall"):
        build_lite0(weights=tmp_path / "absent.pth")
    torch.save({"_conv_stem.weight": torch.zeros(32, 3, 3, 3)}, bad)
    with pytest.raises(WeightsError, match="not EfficientNet-Lite0 weights"):
        build_lite0(weights=bad)


def test_lite0_is_listed_by_rtnet_weights(tmp_path: Path) -> None:
    from rtnet.weights import print_report

    status = lite0_status()
    assert status.ok and status.size and status.size > 10_000_000
    console = Console(record=True, width=300)
    print_report(tmp_path, console=console)
    text = console.export_text()
    assert "Built-in backbone" in text
    row = next(line for line in text.splitlines() if "lite0" in line and "found" in line)
    assert "yes" in row


def test_embedded_weights_numbers_are_sane(imagenet_state: dict[str, Tensor]) -> None:
    """Folded weights are finite; the stem absorbed the normalisation (bias != BN beta)."""
    folded = fold_lite0(imagenet_state)
    assert all(torch.isfinite(v).all() for v in folded.values())
    assert not np.allclose(folded["cnn.0.1.0.bias"].numpy(), imagenet_state["_bn0.bias"].numpy())


def test_still_video_file_through_the_training_path(
    imagenet_state: dict[str, Tensor], still_image: Tensor, tmp_path: Path
) -> None:
    """A still video file read as `rtnet train` reads it (FrameRing, RGB for lite0) gives the 2D
    network's features of the preprocessed frame at every frame."""
    bgr = (still_image[0].permute(1, 2, 0).numpy()[:, :, ::-1] * 255).round().astype(np.uint8)
    frame = np.ascontiguousarray(bgr[16:240])  # not square: letterboxed like any video
    video = write_lossless(tmp_path / "still.mkv", [frame] * 12, fps=16)
    expected = lite0_2d_features(imagenet_state, torch.from_numpy(preprocess(frame))[None])[0]
    choice = choose_backbone("lite0")
    backbone = choice.build()
    features, steps = extract_video(video, Extractor(choice, backbone, len(backbone.cnn)), 1)
    assert steps == 3 and features.shape == (12, 1280, 8, 8)
    for step in torch.from_numpy(features.astype(np.float32)):
        assert _cosine(step, expected) >= 0.99


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_every_frame_has_its_own_features(
    imagenet_state: dict[str, Tensor], still_image: Tensor, fast: bool
) -> None:
    """The features are at 16 Hz: each frame of a changing clip gives the 2D network's features
    of that frame (with temporal strides, 3 frames of 4 would be dropped)."""
    frames = torch.stack([still_image[0].roll(shift * 24, dims=-1) for shift in range(4)])
    expected = lite0_2d_features(imagenet_state, frames)
    features = build_lite0(fast=fast)(frames)
    assert features.shape == (4, 1280, 8, 8)
    for index in range(4):
        assert torch.allclose(features[index], expected[index], atol=1e-3), index
    assert not torch.allclose(features[0], features[3], atol=1e-2)
