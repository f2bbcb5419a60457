"""What the MediaPipe networks share: the TFLite input/output contract and the execution paths."""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

from rtnet._core import set_kernel_threads
from rtnet.errors import ConfigError
from rtnet.models.backbones import Precision, bf16_supported
from rtnet.models.landmarks.allocator import keep_freed_memory
from rtnet.models.landmarks.blocks import Conv
from rtnet.models.landmarks.lowering import LoweredNetwork, NotLowerable, lower


class LandmarkNetwork(nn.Module):
    """A MediaPipe network: called like its ``.tflite`` file.

    It takes (N, S, S, 3) float32 NHWC images with the values the ``.tflite`` expects (pose: [-1, 1]
    for the detector and [0, 1] for landmarks; hands: [0, 1]) and returns the ``.tflite``'s outputs,
    in its order and shapes, as float32 tensors. Subclasses define the layers and ``compute``, the
    network on an NCHW tensor.

    ``fast`` and ``precision`` change how it computes, not what: plain is the eager NCHW reference
    (bf16 by autocast). Fast in fp32 on a CPU runs the network as one Rust kernel program
    (``lowering``): XNNPACK's order of sums, so it gives LiteRT's results, and no PyTorch call per
    layer; weights loaded later (load_state_dict) replace its copies. Fast in bf16 (or on a GPU)
    runs channels-last with oneDNN's fused convolutions (FusedConv), weights and activations in
    bf16. These networks do not take bf16 well: on the reference video, pose landmarks move by up
    to ~80 px of 256 and the pose flag by ~0.6 (already ~10 px with only the first convolution in
    bf16), hand landmarks by ~7 px of 224. Use fp32 for them.
    """

    input_size: int
    outputs: tuple[str, ...]

    def __init__(self) -> None:
        super().__init__()
        self.fast = False
        self.precision: Precision = "fp32"
        self._lowered: LoweredNetwork | None = None
        self._stale = False  # weights loaded since the kernel program was made
        self.register_load_state_dict_post_hook(LandmarkNetwork._weights_loaded)

    def compute(self, x: Tensor) -> tuple[Tensor, ...]:
        raise NotImplementedError

    def configure(self, *, fast: bool, precision: Precision) -> LandmarkNetwork:
        """Select the execution path; raises ConfigError for bf16 where it is not native."""
        if precision not in ("fp32", "bf16"):
            raise ConfigError(f"unknown precision {precision!r}: use fp32 or bf16")
        device = next(self.parameters()).device
        if precision == "bf16" and not bf16_supported(device):
            raise ConfigError(f"precision bf16 is not native on this {device.type}: use fp32")
        dtype = torch.bfloat16 if fast and precision == "bf16" else torch.float32
        if next(self.parameters()).dtype != dtype and self.fast and self.precision == "bf16":
            # The weights were rounded to bf16: casting them back would not restore them.
            raise ConfigError("a network configured for fast bf16 stays so: build another one")
        self.fast, self.precision = fast, precision
        self._lowered = None
        self.to(dtype=dtype)
        program = fast and precision == "fp32" and device.type == "cpu"
        self._prepare(channels_last=fast and not program, dtype=dtype)
        if program and not self._lowerable():  # an operation the kernel program lacks
            self._prepare(channels_last=True, dtype=dtype)
        if fast and device.type == "cpu":
            keep_freed_memory()
        return self

    def _prepare(self, *, channels_last: bool, dtype: torch.dtype) -> None:
        self.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        for module in self.modules():
            if isinstance(module, Conv):
                module.prepare(fast=channels_last, dtype=dtype)

    def _lowerable(self) -> bool:
        """Whether the kernel program holds every operation between this network's maps."""
        try:
            self._lower()
        except NotLowerable:
            self._lowered = None
            return False
        return True

    @staticmethod
    def _weights_loaded(module: nn.Module, _keys: object) -> None:
        # The kernel program holds copies of the weights: remake it from the loaded ones.
        assert isinstance(module, LandmarkNetwork)
        module._stale = module._lowered is not None

    def _lower(self) -> LoweredNetwork:
        with torch.no_grad():
            self._lowered = lower(self)
        self._stale = False
        return self._lowered

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        size = self.input_size
        if images.dim() != 4 or tuple(images.shape[1:]) != (size, size, 3):
            raise ValueError(f"expected (N, {size}, {size}, 3) images, got {tuple(images.shape)}")
        if self._lowered is not None:
            lowered = self._lower() if self._stale else self._lowered
            set_kernel_threads(torch.get_num_threads())
            with torch.inference_mode():
                outputs = lowered(images.detach().float())
            return tuple(output.contiguous() for output in outputs)
        # An NHWC tensor seen as NCHW is already channels-last: the fast path takes it as it is.
        x = images.permute(0, 3, 1, 2)
        with self._context():
            if self.fast:
                outputs = self.compute(x.to(next(self.parameters()).dtype))
            else:
                outputs = self.compute(x.contiguous())
        return tuple(output.float().contiguous() for output in outputs)

    def _context(self) -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode() if self.fast else torch.no_grad())
        if self.precision == "bf16" and not self.fast:
            device_type = next(self.parameters()).device.type
            stack.enter_context(torch.autocast(device_type, dtype=torch.bfloat16))
        return stack
