"""The fast path of a landmark network: its layers lowered, once, to a Rust kernel program.

The network's ``compute`` is traced with torch.fx (each ``Conv`` one node). Convolutions,
additions, PReLU, zero-padding of channels, 2x bilinear upsampling, 2x2 max pooling,
depth-to-space, the mean over height and width and the linear layers after it (a 1x1 map and
1x1 convolutions) become steps of a ``rtnet._core.KernelProgram``, which runs them in one call
on NHWC float32 maps with XNNPACK's order of sums (so the fast path agrees with LiteRT to the
last bits, where PyTorch's oneDNN kernels differ by up to 1e-2 px). What follows the last map
(sigmoids, reshapes, concatenations) stays a small generated PyTorch function, the tail.

Per operation from Python, PyTorch costs about 30 us around a kernel call; a pose frame makes a
hundred of them, so the whole program runs in one call.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.fx
import torch.nn.functional as F
from torch import Tensor, nn

from rtnet import _core
from rtnet.models.landmarks.blocks import Conv, depth_to_space

if TYPE_CHECKING:  # network.py imports this module
    from rtnet.models.landmarks.network import LandmarkNetwork


class NotLowerable(Exception):
    """The network holds an operation the kernel program lacks, between two that it has."""


class _ConvLeaf(torch.fx.Tracer):
    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, Conv) or super().is_leaf_module(m, module_qualified_name)


class ComputeModule(nn.Module):
    """``network.compute`` (its NCHW computation) as a module's forward, for torch.fx."""

    def __init__(self, network: LandmarkNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return self.network.compute(x)


def _as_array(tensor: Tensor) -> np.ndarray:
    return tensor.detach().float().contiguous().numpy()


def _padding(conv: Conv) -> tuple[int, int, int, int]:
    left, right, top, bottom = conv.pad  # F.pad's order
    return top, bottom, left, right


def _is_upsample2x(node: torch.fx.Node) -> bool:
    kwargs = node.kwargs
    options = (kwargs.get("scale_factor"), kwargs.get("mode"), kwargs.get("align_corners"))
    return node.target is F.interpolate and options == (2.0, "bilinear", False)


def _is_max_pool2x2(node: torch.fx.Node) -> bool:
    defaults = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False}
    kwargs = {"return_indices": False, **defaults, **node.kwargs}
    return (
        node.target is F.max_pool2d
        and node.args[1:] == (2,)
        and kwargs["stride"] in (None, 2)
        and (kwargs["padding"], kwargs["dilation"], kwargs["ceil_mode"]) == (0, 1, False)
        and kwargs["return_indices"] is False
    )


def _channel_padding(node: torch.fx.Node) -> int | None:
    """The zero channels an ``F.pad`` node appends to an NCHW map, None if it pads otherwise."""
    if node.target is not F.pad:
        return None
    args = dict(zip(("input", "pad", "mode", "value"), node.args, strict=False))
    options = {"mode": "constant", "value": None, **node.kwargs, **args}
    pad = options.get("pad")
    if options["mode"] != "constant" or options["value"] not in (None, 0, 0.0):
        return None
    if not isinstance(pad, tuple | list) or not all(isinstance(p, int) for p in pad):
        return None
    sides = [int(p) for p in pad]
    if len(sides) != 6 or any(sides[:5]) or sides[5] < 0:
        return None
    return sides[5]


def _is_spatial_mean(node: torch.fx.Node) -> bool | None:
    """Whether a node is an NCHW map's mean over height and width: None if not, else whether
    it keeps those axes (a map, (N, C, 1, 1)) or drops them (a vector, (N, C))."""
    if node.op != "call_method" or node.target != "mean" or len(node.args) > 2:
        return None
    options = {"keepdim": False, "dtype": None, **node.kwargs}
    dim = node.args[1] if len(node.args) > 1 else options.get("dim")
    if set(options) - {"dim", "keepdim", "dtype"} or options["dtype"] is not None:
        return None
    if not isinstance(dim, tuple | list) or sorted(dim) not in ([2, 3], [-2, -1]):
        return None
    return bool(options["keepdim"])


@dataclass
class LoweredNetwork:
    """The kernel program and the tail that turns its output maps into the network's outputs."""

    program: _core.KernelProgram
    tail: torch.fx.GraphModule

    def __call__(self, images: Tensor) -> tuple[Tensor, ...]:
        """(N, S, S, C) float32 NHWC images -> the network's outputs (each image in turn)."""
        per_image = []
        for image in images:
            maps = self.program.run(image[None].contiguous().numpy())
            # Maps come back NHWC; the tail works on NCHW views of them, as compute() does.
            per_image.append(self.tail(*(torch.from_numpy(m).permute(0, 3, 1, 2) for m in maps)))
        if len(per_image) == 1:
            return tuple(per_image[0])
        return tuple(torch.cat(parts) for parts in zip(*per_image, strict=True))


def lower(network: LandmarkNetwork) -> LoweredNetwork:
    """Lowers ``network.compute``, traced on its plain path."""
    root = ComputeModule(network)
    graph = _ConvLeaf().trace(root)
    modules = dict(root.named_modules())
    program = _core.KernelProgram(network.input_size, network.input_size, 3)
    maps: dict[torch.fx.Node, int] = {}  # lowered node -> its map
    # Lowered nodes whose PyTorch value is (N, C), held as 1x1 maps.
    vectors: set[torch.fx.Node] = set()

    def map_of(value: object) -> int:
        if not isinstance(value, torch.fx.Node) or value not in maps:
            raise NotLowerable(f"an input of the kernel program comes from {value}")
        return maps[value]

    def prelu_of(node: torch.fx.Node) -> nn.PReLU | None:
        module = modules.get(str(node.target)) if node.op == "call_module" else None
        return module if isinstance(module, nn.PReLU) else None

    tail_nodes: list[torch.fx.Node] = []
    for node in graph.nodes:
        if node in maps:  # a PReLU done by the add before it
            continue
        if node.op == "placeholder":
            maps[node] = 0
        elif node.op == "call_module" and isinstance(modules[str(node.target)], Conv):
            maps[node] = _lower_conv(program, modules[str(node.target)], node, map_of)
        elif (prelu := prelu_of(node)) is not None:
            source = map_of(node.args[0])
            maps[node] = program.prelu(source, _slopes(prelu, program.shape(source)[2]))
        elif node.op == "call_function" and (extra := _channel_padding(node)) is not None:
            maps[node] = program.pad_channels(map_of(node.args[0]), extra)
        elif (keepdim := _is_spatial_mean(node)) is not None and node.args[0] in maps:
            maps[node] = program.mean(map_of(node.args[0]))
            if not keepdim:
                vectors.add(node)
        elif (
            node.op == "call_module"
            and isinstance(modules[str(node.target)], nn.Linear)
            and isinstance(node.args[0], torch.fx.Node)
            and node.args[0] in vectors
        ):
            maps[node] = _lower_linear(program, modules[str(node.target)], map_of(node.args[0]))
            vectors.add(node)
        elif node.op == "call_function" and node.target is operator.add:
            a, b = node.args
            if all(isinstance(v, torch.fx.Node) and v in maps for v in (a, b)):
                # prelu(a + b), as each BlazeBlock ends, in one pass when the sum has no other use.
                (after,) = node.users if len(node.users) == 1 else (None,)
                prelu = None if after is None else prelu_of(after)
                if after is not None and prelu is not None:
                    slopes = _slopes(prelu, program.shape(map_of(a))[2])
                    maps[node] = maps[after] = program.add_prelu(map_of(a), map_of(b), slopes)
                else:
                    maps[node] = program.add(map_of(a), map_of(b))
            else:
                tail_nodes.append(node)
        elif node.op == "call_function" and _is_upsample2x(node):
            maps[node] = program.upsample2x(map_of(node.args[0]))
        elif node.op == "call_function" and _is_max_pool2x2(node):
            maps[node] = program.max_pool2x2(map_of(node.args[0]))
        elif node.op == "call_function" and node.target is depth_to_space:
            block = node.args[1] if len(node.args) > 1 else node.kwargs["block"]
            maps[node] = program.depth_to_space(map_of(node.args[0]), block)
        elif node.op != "output":
            tail_nodes.append(node)
    # The tail: what reads the maps, as a function of the maps it reads.
    tail = torch.fx.Graph()
    env: dict[torch.fx.Node, torch.fx.Node] = {}
    outputs: list[int] = []
    for node in tail_nodes + [n for n in graph.nodes if n.op == "output"]:
        for source in node.all_input_nodes:
            if source in maps and source not in env:
                value = tail.placeholder(f"map{maps[source]}")
                if source in vectors:  # (N, C, 1, 1) to the (N, C) it stands for
                    value = tail.call_method("flatten", (value, 1))
                env[source] = value
                outputs.append(maps[source])
        env[node] = tail.node_copy(node, env.__getitem__)
    program.finish(outputs)
    # Nothing lowered may depend on the tail: a lowered step would read a value never computed.
    tail_set = set(tail_nodes)
    for node in maps:
        if any(source in tail_set for source in node.all_input_nodes):
            raise NotLowerable(f"{node} reads a value the kernel program does not compute")
    return LoweredNetwork(program, torch.fx.GraphModule(root, tail))


def _slopes(prelu: nn.PReLU, channels: int) -> np.ndarray:
    """A PReLU's slope per channel (one slope, num_parameters=1, serves every channel)."""
    return np.ascontiguousarray(np.broadcast_to(_as_array(prelu.weight), channels))


def _lower_conv(
    program: _core.KernelProgram,
    conv: Conv,
    node: torch.fx.Node,
    map_of: Callable[[object], int],
) -> int:
    layer = conv.conv
    assert layer.bias is not None  # every convolution of these networks has one
    weight, bias = _as_array(layer.weight), _as_array(layer.bias)
    residual = node.args[1] if len(node.args) > 1 else node.kwargs.get("residual")
    then = node.kwargs.get("then", "none")
    relu6 = conv.activation == "relu6"
    stride = layer.stride[0]
    input_map = map_of(node.args[0])
    if layer.groups == 1:
        return program.conv(
            weight,
            bias,
            input_map,
            stride=stride,
            padding=_padding(conv),
            relu6=relu6,
            residual=None if residual is None else map_of(residual),
            residual_relu6=bool(then == "relu6"),
        )
    if layer.groups != layer.in_channels or residual is not None:
        raise NotLowerable(f"{node.target}: grouped convolution or depthwise with a residual")
    return program.depthwise(
        weight, bias, input_map, stride=stride, padding=_padding(conv), relu6=relu6
    )


def _lower_linear(program: _core.KernelProgram, linear: nn.Linear, input_map: int) -> int:
    """A linear layer on a 1x1 map: a 1x1 convolution, the bias then the inputs' products
    summed in order, as XNNPACK's FULLY_CONNECTED does."""
    weight = _as_array(linear.weight)[:, :, None, None]
    if linear.bias is None:
        bias = np.zeros(linear.out_features, np.float32)
    else:
        bias = _as_array(linear.bias)
    return program.conv(np.ascontiguousarray(weight), bias, input_map)
