"""The landmark networks' fast path: the Rust kernel program and its lowering from the modules.

Equality with LiteRT is in test_landmark_models.py; here: the program's own contract (maps,
errors, threads, memory) and how a network keeps it in step with its weights.
"""

from __future__ import annotations

import resource
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from rtnet import _core
from rtnet.models import build_landmark_model
from rtnet.models.landmarks.allocator import keep_freed_memory
from rtnet.models.landmarks.blocks import BlazeBlock, Conv, dw, pw
from rtnet.models.landmarks.lowering import NotLowerable, lower
from rtnet.models.landmarks.network import LandmarkNetwork


def random(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def small_program() -> tuple[_core.KernelProgram, list[int]]:
    """8x8x3 image -> 3x3 conv to 16 (relu6) -> depthwise 3x3 -> 1x1 conv + skip -> pool, up."""
    program = _core.KernelProgram(8, 8, 3)
    a = program.conv(random(16, 3, 3, 3), random(16), 0, padding=(1, 1, 1, 1), relu6=True)
    b = program.depthwise(random(16, 1, 3, 3, seed=1), random(16, seed=1), a, padding=(1, 1, 1, 1))
    c = program.conv(random(16, 16, 1, 1, seed=2), random(16, seed=2), b, residual=a)
    d = program.max_pool2x2(c)
    e = program.upsample2x(d)
    return program, [a, c, d, e]


def reference(image: np.ndarray) -> list[np.ndarray]:
    """small_program in PyTorch (NCHW), up to float32 rounding."""
    x = torch.from_numpy(image).permute(0, 3, 1, 2)
    a = F_conv(x, random(16, 3, 3, 3), random(16), padding=1).clamp(0, 6)
    weight, bias = random(16, 1, 3, 3, seed=1), random(16, seed=1)
    b = torch.nn.functional.conv2d(a, torch.from_numpy(weight), torch.from_numpy(bias), 1, 1, 1, 16)
    c = F_conv(b, random(16, 16, 1, 1, seed=2), random(16, seed=2)) + a
    d = torch.nn.functional.max_pool2d(c, 2)
    e = torch.nn.functional.interpolate(d, scale_factor=2.0, mode="bilinear", align_corners=False)
    return [t.permute(0, 2, 3, 1).numpy() for t in (a, c, d, e)]


def F_conv(x: Tensor, weight: np.ndarray, bias: np.ndarray, padding: int = 0) -> Tensor:
    return torch.nn.functional.conv2d(
        x, torch.from_numpy(weight), torch.from_numpy(bias), padding=padding
    )


def test_program_computes_its_steps() -> None:
    program, maps = small_program()
    assert [program.shape(m) for m in maps] == [(8, 8, 16), (8, 8, 16), (4, 4, 16), (8, 8, 16)]
    program.finish(maps)
    image = np.random.default_rng(3).random((1, 8, 8, 3), dtype=np.float32)
    outputs = program.run(image)
    for got, expected in zip(outputs, reference(image), strict=True):
        assert got.shape == expected.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # Frames do not leak into each other, and outputs are new arrays each run.
    again = program.run(image)
    for first, second in zip(outputs, again, strict=True):
        np.testing.assert_array_equal(first, second)
        assert not np.shares_memory(first, second)


def test_threads_give_the_same_bits() -> None:
    network = build_landmark_model("pose_landmarks")
    image = torch.from_numpy(np.random.default_rng(4).random((1, 256, 256, 3), dtype=np.float32))
    threads = torch.get_num_threads()
    try:
        results = []
        for count in (1, 2, 3):
            torch.set_num_threads(count)  # the network passes it to the kernels
            results.append([o.numpy() for o in network(image)])
    finally:
        torch.set_num_threads(threads)
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_freed_maps_lend_their_memory() -> None:
    network = build_landmark_model("pose_landmarks")
    lowered = network._lowered
    assert lowered is not None
    # Every map on its own would take ~44 MB; the plan fits them in about a quarter.
    assert lowered.program.memory * 4 < 16e6


def test_bad_arguments_are_errors_not_crashes() -> None:
    program = _core.KernelProgram(4, 4, 2)
    with pytest.raises(ValueError, match="not finished"):
        program.run(np.zeros((1, 4, 4, 2), np.float32))
    with pytest.raises(ValueError, match="channels"):
        program.conv(random(3, 5, 1, 1), random(3), 0)  # 5 inputs wanted, 2 given
    with pytest.raises(ValueError, match="no map"):
        program.max_pool2x2(7)
    with pytest.raises(ValueError, match=r"bias \(out,\)"):
        program.conv(random(3, 2, 1, 1), random(4), 0)  # bias of 4 for 3 outputs
    with pytest.raises(ValueError, match="depthwise"):
        program.depthwise(random(2, 2, 3, 3), random(2), 0)
    with pytest.raises(ValueError, match="too large"):
        program.conv(random(3, 2, 3, 3), random(3), 0, padding=(2**63, 2**63, 0, 0))
    with pytest.raises(ValueError, match="larger than"):
        _core.KernelProgram(1 << 14, 1 << 14, 1)  # 256 Mi values: refused, not allocated
    big = _core.KernelProgram(4096, 4096, 4)
    with pytest.raises(ValueError, match="larger than"):
        big.upsample2x(0)
    pooled = program.max_pool2x2(0)
    program.finish([pooled])
    with pytest.raises(ValueError, match=r"image must have shape \(1, 4, 4, 2\)"):
        program.run(np.zeros((1, 4, 4, 3), np.float32))
    with pytest.raises(TypeError, match="float32"):
        program.run(np.zeros((1, 4, 4, 2), np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        program.run(np.zeros((1, 4, 8, 2), np.float32)[:, :, ::2])
    with pytest.raises(ValueError, match="between 1 and 1024"):
        _core.set_kernel_threads(0)


def test_loaded_weights_replace_the_programs_copies() -> None:
    network = build_landmark_model("hand_landmarks")
    image = torch.rand(1, 224, 224, 3, generator=torch.Generator().manual_seed(5))
    before = network(image)[0]
    state = {k: v.clone() for k, v in network.state_dict().items()}
    network.load_state_dict({k: v * 1.01 for k, v in state.items()})
    changed = network(image)[0]
    assert (changed - before).abs().max() > 1
    plain = build_landmark_model("hand_landmarks", fast=False)
    plain.load_state_dict({k: v * 1.01 for k, v in state.items()})
    torch.testing.assert_close(changed, plain(image)[0], rtol=0, atol=2e-3)
    network.load_state_dict(state)
    torch.testing.assert_close(network(image)[0], before, rtol=0, atol=0)


class _Tanh(LandmarkNetwork):
    """A network with an operation the kernel program lacks between two it has."""

    input_size = 16
    outputs = ("features",)

    def __init__(self) -> None:
        super().__init__()
        self.first = pw(3, 8, "relu6")
        self.second = dw(8, 3)

    def compute(self, x: Tensor) -> tuple[Tensor, ...]:
        return (self.second(torch.tanh(self.first(x))).flatten(1),)


def test_networks_the_program_cannot_hold_keep_the_onednn_path() -> None:
    network = _Tanh()
    with pytest.raises(NotLowerable, match="tanh"):
        lower(network)
    network.configure(fast=True, precision="fp32")
    assert network._lowered is None
    assert all(isinstance(m, Conv) and m.fused is not None for m in (network.first, network.second))
    image = torch.rand(2, 16, 16, 3)
    plain = _Tanh()
    plain.load_state_dict(network.state_dict())
    torch.testing.assert_close(network(image)[0], plain(image)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_frames_reuse_memory() -> None:
    """The program's maps live across frames: a frame faults no memory in (PyTorch's own
    activations cost ~2000 page faults a frame before the program and keep_freed_memory)."""
    network = build_landmark_model("pose_landmarks")
    images = torch.rand(1, 256, 256, 3)
    for _ in range(3):
        network(images)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        network(images)
    # At times the kernel reclaims idle pages: a margin.
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / 5 < 150
    assert keep_freed_memory()  # it was glibc


def test_prelu_channel_padding_and_mean_steps() -> None:
    program = _core.KernelProgram(4, 6, 2)
    padded = program.pad_channels(0, 3)
    slopes = np.array([0.5, -2.0, 0.25, 3.0, 0.0], np.float32)
    activated = program.prelu(padded, slopes)
    mean = program.mean(activated)
    assert [program.shape(m) for m in (padded, activated, mean)] == [
        (4, 6, 5),
        (4, 6, 5),
        (1, 1, 5),
    ]
    program.finish([padded, activated, mean])
    image = random(1, 4, 6, 2, seed=1)
    got_padded, got_activated, got_mean = program.run(image)
    expected = np.concatenate([image, np.zeros((1, 4, 6, 3), np.float32)], axis=3)
    np.testing.assert_array_equal(got_padded, expected)
    np.testing.assert_array_equal(
        got_activated, np.where(expected < 0, expected * slopes, expected)
    )
    # Summed pixel after pixel, then times the float32 1/24 (XNNPACK's MEAN): exactly.
    total = np.zeros(5, np.float32)
    for pixel in got_activated.reshape(-1, 5):
        total = total + pixel
    np.testing.assert_array_equal(got_mean.reshape(5), total * np.float32(1 / 24))


def test_bad_prelu_slopes_are_errors() -> None:
    program = _core.KernelProgram(2, 2, 3)
    with pytest.raises(ValueError, match="3 channels"):
        program.prelu(0, np.ones(2, np.float32))
    with pytest.raises(ValueError, match=r"\(channels,\)"):
        program.prelu(0, np.ones((1, 3), np.float32))
    with pytest.raises(TypeError, match="float32"):
        program.prelu(0, np.ones(3, np.float64))
    with pytest.raises(ValueError, match="no map"):
        program.pad_channels(4, 1)


class _Blazeish(LandmarkNetwork):
    """PReLU, BlazeBlocks that pad channels, a mean and linear heads after it."""

    input_size = 16
    outputs = ("vector", "probability", "map")

    def __init__(self) -> None:
        super().__init__()
        self.first = Conv(3, 8, 3, 2)
        self.prelu = nn.PReLU(8)
        self.shared = nn.PReLU()  # one slope for every channel
        self.widen = BlazeBlock(8, 12, stride=2)
        self.keep = BlazeBlock(12, 12)
        self.head = nn.Linear(12, 5)
        self.flag = nn.Linear(12, 1)

    def compute(self, x: Tensor) -> tuple[Tensor, ...]:
        y = self.keep(self.widen(self.shared(self.prelu(self.first(x)))))
        features = y.mean(dim=(2, 3))
        return self.head(features), torch.sigmoid(self.flag(features)), y


def test_prelu_padding_mean_and_linear_layers_are_lowered() -> None:
    torch.manual_seed(0)
    network = _Blazeish()
    for prelu in (network.prelu, network.shared, network.widen.prelu, network.keep.prelu):
        nn.init.uniform_(prelu.weight, -1.0, 1.0)  # negative slopes too
    lowered = lower(network)
    # The tail keeps only the sigmoid: everything else is a program step.
    tail_ops = {str(n.target) for n in lowered.tail.graph.nodes if n.op != "placeholder"}
    assert "sigmoid" in str(tail_ops) and not any("head" in op or "mean" in op for op in tail_ops)
    image = torch.rand(2, 16, 16, 3, generator=torch.Generator().manual_seed(1))
    plain = network.compute(image.permute(0, 3, 1, 2))
    fast = lowered(image)
    for got, expected in zip(fast, plain, strict=True):
        torch.testing.assert_close(got.reshape(expected.shape), expected, rtol=1e-5, atol=1e-5)
    assert fast[0].shape == (2, 5) and fast[1].shape == (2, 1)


def test_every_network_is_lowered() -> None:
    for name in ("pose_detector", "pose_landmarks", "palm_detector", "hand_landmarks"):
        assert build_landmark_model(name)._lowered is not None, name
    assert build_landmark_model("pose_landmarks", fast=False)._lowered is None


def test_networks_run_from_several_threads_at_once() -> None:
    """Programs share one pool of kernel threads: runs from two Python threads take turns
    rather than wait on each other's barriers forever."""
    networks = [build_landmark_model("pose_detector"), build_landmark_model("hand_landmarks")]
    images = [torch.rand(1, n.input_size, n.input_size, 3) for n in networks]
    alone = [n(x)[0] for n, x in zip(networks, images, strict=True)]
    results: dict[int, list[Tensor]] = {0: [], 1: []}

    def work(i: int) -> None:
        for _ in range(5):
            results[i].append(networks[i](images[i])[0])

    workers = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not any(worker.is_alive() for worker in workers)
    for i in (0, 1):
        assert len(results[i]) == 5
        for got in results[i]:
            torch.testing.assert_close(got, alone[i], rtol=0, atol=0)


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="reads the CPU's flags on Linux")
def test_kernels_pick_the_cpus_best_code() -> None:
    flags = set(Path("/proc/cpuinfo").read_text().split())
    expected = (
        "avx512" if "avx512f" in flags else "avx2+fma" if {"avx2", "fma"} <= flags else "portable"
    )
    assert _core.kernel_instructions() == expected
