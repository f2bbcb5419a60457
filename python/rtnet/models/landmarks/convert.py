"""Convert MediaPipe's ``.tflite`` files into the shipped ``weights/*.safetensors`` (fp16).

    python -m rtnet.models.landmarks.convert MEDIAPIPE_WHEEL_OR_DIR [--out DIR]

needs the ``tflite`` flatbuffer bindings (a dev dependency). The weights of a layer are found by
data flow, not by name: the convolutions, PReLUs and dense layers of the ``.tflite`` graph and of
the PyTorch network (traced with torch.fx) are matched in the ``.tflite``'s order, each to the
unmatched layer of the same kind and shape whose nearest weighted ancestors are the images of its
own; where that leaves a choice (two heads on one input), the first in registration order.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tflite
import torch
import torch.fx
from safetensors.torch import save_file
from tflite.BuiltinOperator import BuiltinOperator
from tflite.TensorType import TensorType
from torch import Tensor, nn

from rtnet.models.landmarks import (
    LANDMARK_MODELS,
    MEDIAPIPE_VERSION,
    WEIGHTS_DIR,
    mediapipe_files,
)
from rtnet.models.landmarks.lowering import ComputeModule
from rtnet.models.landmarks.network import LandmarkNetwork

WEIGHTED_OPS = {
    BuiltinOperator.CONV_2D: "conv",
    BuiltinOperator.DEPTHWISE_CONV_2D: "depthwise",
    BuiltinOperator.PRELU: "prelu",
    BuiltinOperator.FULLY_CONNECTED: "linear",
}
CONSTANT_OPS = {BuiltinOperator.DEQUANTIZE, BuiltinOperator.DENSIFY}
DTYPES = {TensorType.FLOAT16: np.float16, TensorType.FLOAT32: np.float32}
INPUT = -1  # the graph input, as an ancestor


@dataclass
class WeightedOp:
    kind: str
    weights: tuple[np.ndarray, ...]  # in PyTorch's layout, as stored (fp16)
    ancestors: frozenset[int]  # indices of the nearest weighted ops upstream, or INPUT


def densify(tensor: tflite.Tensor, values: np.ndarray) -> np.ndarray:
    """A sparse constant (TFLite SparsityParameters) as a dense array.

    ``dim_metadata`` lists the dimensions in ``traversal_order``: the tensor's own, then one per
    entry of ``block_map`` (the block's offset within the original dimension ``block_map[i]``).
    A DENSE level enumerates ``dense_size`` indices; a SPARSE_CSR level the ``array_indices`` in
    ``array_segments[parent], array_segments[parent + 1]``. Values come in traversal order.
    """
    sparsity = tensor.Sparsity()
    shape = [int(d) for d in tensor.ShapeAsNumpy()]
    order = [int(d) for d in sparsity.TraversalOrderAsNumpy()]
    block_map = [int(d) for d in sparsity.BlockMapAsNumpy()] if sparsity.BlockMapLength() else []
    levels = [sparsity.DimMetadata(i) for i in range(sparsity.DimMetadataLength())]
    rank = len(shape)
    block_sizes = {
        block_map[i]: levels[order.index(rank + i)].DenseSize() for i in range(len(block_map))
    }
    dense = np.zeros(shape, dtype=values.dtype)
    position = 0

    def vector(level: tflite.DimensionMetadata, segments: bool) -> np.ndarray:
        kind = level.ArraySegmentsType() if segments else level.ArrayIndicesType()
        table = level.ArraySegments() if segments else level.ArrayIndices()
        cls = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}[kind]
        vec = cls()
        vec.Init(table.Bytes, table.Pos)
        return np.asarray(vec.ValuesAsNumpy(), dtype=np.int64)

    sparse_tables = {
        i: (vector(level, True), vector(level, False))
        for i, level in enumerate(levels)
        if level.Format() == tflite.DimensionType.SPARSE_CSR
    }

    def visit(level: int, parent: int, index: list[int]) -> None:
        nonlocal position
        if level == len(levels):
            expanded = dict(zip(order, index, strict=True))
            coords = []
            for dim in range(rank):
                coord = expanded[dim]
                if dim in block_sizes:
                    coord = coord * block_sizes[dim] + expanded[rank + block_map.index(dim)]
                coords.append(coord)
            dense[tuple(coords)] = values[position]
            position += 1
            return
        if level in sparse_tables:
            segments, indices = sparse_tables[level]
            for i in range(segments[parent], segments[parent + 1]):
                visit(level + 1, i, [*index, int(indices[i])])
        else:
            size = levels[level].DenseSize()
            for i in range(size):
                visit(level + 1, parent * size + i, [*index, i])

    visit(0, 0, [])
    if position != len(values):
        raise ValueError(f"sparse tensor {tensor.Name()!r}: {len(values)} values, {position} used")
    return dense


def read_weighted_ops(data: bytes) -> list[WeightedOp]:
    """The weighted ops of a ``.tflite`` graph in its order, with weights and data-flow parents."""
    model = tflite.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)

    def constant(index: int) -> np.ndarray:
        tensor = graph.Tensors(index)
        raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
        values = np.frombuffer(raw.tobytes(), dtype=DTYPES[tensor.Type()])
        if tensor.Sparsity() is not None:
            return densify(tensor, values)
        return values.reshape([int(d) for d in tensor.ShapeAsNumpy()])

    constants: dict[int, np.ndarray] = {}  # tensor -> value, through DEQUANTIZE and DENSIFY
    ops: list[WeightedOp] = []
    ancestors_of: dict[int, frozenset[int]] = {
        int(i): frozenset({INPUT}) for i in graph.InputsAsNumpy()
    }

    def value(index: int) -> np.ndarray:
        return constants[index] if index in constants else constant(index)

    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        inputs = [int(i) for i in op.InputsAsNumpy() if i >= 0]
        outputs = [int(i) for i in op.OutputsAsNumpy()]
        if builtin in CONSTANT_OPS:
            # Keep fp16: the stored values are exactly those LiteRT dequantizes.
            constants[outputs[0]] = value(inputs[0])
            continue
        data_inputs = [i for i in inputs if i in ancestors_of]
        if builtin in WEIGHTED_OPS:
            kind = WEIGHTED_OPS[builtin]
            params = [value(i) for i in inputs if i not in ancestors_of]
            ops.append(
                WeightedOp(kind, to_torch_layout(kind, params), _union(ancestors_of, data_inputs))
            )
            reached = frozenset({len(ops) - 1})
        else:
            reached = _union(ancestors_of, data_inputs)
        for out in outputs:
            ancestors_of[out] = reached
    return ops


def _union(ancestors_of: dict[int, frozenset[int]], tensors: Iterable[int]) -> frozenset[int]:
    return frozenset().union(*(ancestors_of[t] for t in tensors))


def to_torch_layout(kind: str, params: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    if kind == "conv":  # OHWI -> OIHW
        weight, bias = params
        return weight.transpose(0, 3, 1, 2), bias
    if kind == "depthwise":  # 1HWC -> C1HW
        weight, bias = params
        return weight.transpose(3, 0, 1, 2), bias
    if kind == "prelu":  # 11C -> C
        (alpha,) = params
        return (alpha.reshape(-1),)
    weight, bias = params  # FULLY_CONNECTED: (out, in), as nn.Linear
    return weight, bias


@dataclass
class Layer:
    kind: str
    module: nn.Module
    prefix: str
    ancestors: frozenset[int]  # indices into the layer list, or INPUT


def module_kind(module: nn.Module) -> str | None:
    if isinstance(module, nn.Conv2d):
        return "depthwise" if module.groups > 1 else "conv"
    if isinstance(module, nn.PReLU):
        return "prelu"
    if isinstance(module, nn.Linear):
        return "linear"
    return None


def read_layers(network: LandmarkNetwork) -> list[Layer]:
    """The weighted layers of ``network`` in registration order, with data-flow ancestors."""
    root = ComputeModule(network)
    graph = torch.fx.Tracer().trace(root)
    modules = dict(root.named_modules())
    order = {name: i for i, name in enumerate(modules)}
    found: dict[str, frozenset[str]] = {}
    ancestors_of: dict[torch.fx.Node, frozenset[str]] = {}
    for node in graph.nodes:
        upstream: frozenset[str] = frozenset().union(
            *(ancestors_of[i] for i in node.all_input_nodes)
        )
        if node.op == "placeholder":
            ancestors_of[node] = frozenset({"<input>"})
        elif node.op == "call_module" and module_kind(modules[str(node.target)]) is not None:
            target = str(node.target)
            if target in found:
                raise ValueError(f"{target} is called twice")
            found[target] = upstream
            ancestors_of[node] = frozenset({target})
        else:
            ancestors_of[node] = upstream
    names = sorted(found, key=order.__getitem__)
    index = {name: i for i, name in enumerate(names)} | {"<input>": INPUT}
    return [
        Layer(
            str(module_kind(modules[name])),
            modules[name],
            name.removeprefix("network."),
            frozenset(index[a] for a in found[name]),
        )
        for name in names
    ]


def convert(network: LandmarkNetwork, tflite_bytes: bytes) -> dict[str, Tensor]:
    """The state dict of ``network`` (fp16) holding the weights of the ``.tflite`` model."""
    ops = read_weighted_ops(tflite_bytes)
    layers = read_layers(network)
    if len(ops) != len(layers):
        raise ValueError(f"{len(ops)} weighted ops in the .tflite, {len(layers)} in the network")
    image: dict[int, int] = {INPUT: INPUT}  # op -> layer
    free = set(range(len(layers)))
    state: dict[str, Tensor] = {}
    for k, op in enumerate(ops):
        wanted = frozenset(image[a] for a in op.ancestors)
        candidates = [
            i
            for i in sorted(free)
            if layers[i].kind == op.kind
            and layers[i].ancestors == wanted
            and [tuple(p.shape) for p in layers[i].module.parameters()]
            == [w.shape for w in op.weights]
        ]
        if not candidates:
            raise ValueError(f"no layer of the network matches weighted op {k} ({op.kind})")
        layer = layers[candidates[0]]
        image[k] = candidates[0]
        free.remove(candidates[0])
        names = [name for name, _ in layer.module.named_parameters()]
        for name, weight in zip(names, op.weights, strict=True):
            if weight.dtype != np.float16:
                raise ValueError(f"op {k}: {weight.dtype} weights, expected float16")
            # A copy: the .tflite shares some constants between layers, safetensors refuses that.
            state[f"{layer.prefix}.{name}"] = torch.from_numpy(weight.copy())
    return dict(sorted(state.items()))


def source_tag(tflite_path: str, sha256: str) -> str:
    return f"mediapipe=={MEDIAPIPE_VERSION} {tflite_path} sha256:{sha256} (Apache-2.0)"


def write_weights(source: Path, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in mediapipe_files(source):
        model = LANDMARK_MODELS[name]
        state = convert(model.network(), data)
        # One key: safetensors writes its metadata map in no fixed order, and the files must
        # come out the same byte for byte.
        metadata = {"source": source_tag(model.tflite, model.sha256)}
        path = out / f"{name}.safetensors"
        save_file(state, path, metadata=metadata)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="mediapipe wheel, or a folder holding its files")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args(argv)
    for path in write_weights(args.source, args.out):
        print(f"{path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
