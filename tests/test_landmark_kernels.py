"""The landmark networks' fast-path kernels against the plain layers they stand in for."""

from __future__ import annotations

import resource
import sys
from typing import NamedTuple

import pytest
import torch
import torch.nn.functional as F

from rtnet.models.landmarks import build_landmark_model
from rtnet.models.landmarks.allocator import keep_freed_memory
from rtnet.models.landmarks.blocks import Conv, Padding, upsample2x
from rtnet.models.landmarks.small_conv import SmallConv


def channels_last(*shape: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=generator).contiguous(memory_format=torch.channels_last)


def conv_pair(
    in_channels: int,
    out_channels: int,
    kernel: int,
    stride: int = 1,
    *,
    depthwise: bool = False,
    padding: Padding = "same",
) -> tuple[Conv, Conv]:
    """The same random convolution twice: plain, and prepared for the fast path."""
    torch.manual_seed(1)
    plain = Conv(in_channels, out_channels, kernel, stride, depthwise=depthwise, padding=padding)
    fast = Conv(in_channels, out_channels, kernel, stride, depthwise=depthwise, padding=padding)
    fast.load_state_dict(plain.state_dict())
    fast.to(memory_format=torch.channels_last)
    fast.prepare(fast=True, dtype=torch.float32)
    return plain, fast


class Case(NamedTuple):
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    depthwise: bool
    padding: Padding
    shape: tuple[int, int, int, int]  # of the input
    kind: str


SMALL_CASES = {
    "pointwise 4x4": Case(288, 288, 1, 1, False, "same", (2, 288, 4, 4), "pointwise"),
    "depthwise same 2x2": Case(288, 288, 3, 1, True, "same", (2, 288, 2, 2), "depthwise"),
    "depthwise stride 2, pad after": Case(
        288, 288, 3, 2, True, "same", (1, 288, 4, 4), "depthwise"
    ),
    "dense valid head": Case(288, 195, 2, 1, False, "valid", (2, 288, 2, 2), "dense"),
    "single output": Case(288, 1, 2, 1, False, "valid", (1, 288, 2, 2), "dense"),
}


@pytest.mark.parametrize("name", SMALL_CASES)
def test_small_maps_take_matrix_products(name: str) -> None:
    case = SMALL_CASES[name]
    plain, fast = conv_pair(
        case.in_channels,
        case.out_channels,
        case.kernel,
        case.stride,
        depthwise=case.depthwise,
        padding=case.padding,
    )
    shape, kind = case.shape, case.kind
    assert fast.small is not None and fast.small.kind == kind
    x = channels_last(*shape)
    residual_shape = plain(x).shape
    residual = channels_last(*residual_shape, seed=1) * 4 - 2
    with torch.inference_mode():
        assert fast.small.plan(tuple(x.shape)) is not None
        for got, expected in (
            (fast(x), plain(x)),
            (fast(x, residual, then="relu6"), (plain(x) + residual).clamp(0, 6)),
        ):
            assert got.shape == expected.shape
            assert got.is_contiguous(memory_format=torch.channels_last)
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_small_tables_follow_new_weights_and_large_maps_stay_with_onednn() -> None:
    plain, fast = conv_pair(64, 64, 3, depthwise=True)
    assert fast.small is not None
    assert fast.small.plan((1, 64, 16, 16)) is None  # 256 x 256 pixel pairs: too many
    x = channels_last(1, 64, 4, 4)
    with torch.inference_mode():
        before = fast(x)
    with torch.no_grad():
        plain.conv.weight.mul_(2)
        fast.conv.weight.mul_(2)
    with torch.inference_mode():
        after = fast(x)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, plain(x), rtol=0, atol=1e-5)


def test_single_output_conv_sums_depthwise_products() -> None:
    plain, fast = conv_pair(8, 1, 3)
    assert fast.ones is not None  # 64x64 is no small map: the channel sum
    x = channels_last(2, 8, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), plain(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("channels", [1, 8, 48])
def test_fast_upsampling_is_bilinear(channels: int) -> None:
    x = channels_last(2, channels, 16, 12) * 10
    expected = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    got = upsample2x(x, fast=True)
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_fast_path_reuses_freed_activation_memory() -> None:
    network = build_landmark_model("pose_landmarks")  # the fast path sets malloc up
    images = torch.rand(1, 256, 256, 3)
    for _ in range(3):
        network(images)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        network(images)
    # With glibc's default thresholds: over 2000 page faults per frame; with them raised, a few
    # dozen, at times a few hundred (the kernel reclaiming idle pages).
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / 5 < 1000
    assert keep_freed_memory()  # it was glibc


def test_small_conv_declines_what_it_does_not_cover() -> None:
    conv = torch.nn.Conv2d(3, 24, 3, 2, padding=1)
    small = SmallConv(conv, (0, 0, 0, 0), torch.float32)
    assert small.kind == "dense"
    assert small.plan((1, 3, 256, 256)) is None  # would be a 196608 x 393216 matrix
