"""Stand-in weights: deterministic values in the SenseKit checkpoints' exact layout.

For measuring speed without the SenseKit weights (speed does not depend on the values) and for
the tests, whose goldens were made with these values. The fill rule is the reference spec's
(tests/fixtures/reference/SPEC.md): tensor i of a (key, shape) list is
``default_rng([seed, i]).standard_normal(shape)``, scaled by sqrt(1 / fan-in) for weights of 2 or
more dims and by 0.05 otherwise, as float32.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

    from rtnet.models import BackboneName, HeadKind

# The seed of the stand-ins `rtnet bench` writes (the heads get SEED + 1, SEED + 2, ...).
SEED = 20240


def fill_rule_state_dict(
    tensors: Iterable[tuple[str, Sequence[int]]], seed: int
) -> dict[str, torch.Tensor]:
    """A state dict with the (key, shape) list ``tensors``, filled by the fill rule."""
    import torch

    state = {}
    for index, (key, shape) in enumerate(tensors):
        values = np.random.default_rng([seed, index]).standard_normal(tuple(shape))
        if key.endswith("weight") and len(shape) >= 2:
            values *= np.sqrt(1.0 / np.prod(shape[1:]))
        else:
            values *= 0.05
        state[key] = torch.from_numpy(values.astype(np.float32))
    return state


def save_checkpoint(state: Mapping[str, torch.Tensor], path: Path) -> None:
    """``state`` as the released files are: ``torch.save``, legacy (non-zip) serialization."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(state), path, _use_new_zipfile_serialization=False)


def write_standin_weights(
    dest: Path,
    files: Mapping[str, Path],
    backbone: BackboneName,
    heads: Sequence[HeadKind],
    seed: int = SEED,
) -> None:
    """Stand-in checkpoints of ``backbone`` and ``heads`` under ``dest``, at the relative paths
    ``files`` gives per kind (``"backbone"`` and each head kind); existing files are kept."""
    from rtnet.models import backbone_signature, head_signature

    wanted: list[tuple[str, Iterable[tuple[str, Sequence[int]]], int]] = [
        ("backbone", backbone_signature(backbone), seed)
    ]
    wanted += [
        (kind, head_signature(kind), seed + offset) for offset, kind in enumerate(heads, start=1)
    ]
    for kind, tensors, kind_seed in wanted:
        path = dest / files[kind]
        if not path.is_file():
            save_checkpoint(fill_rule_state_dict(tensors, kind_seed), path)
