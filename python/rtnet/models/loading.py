"""SenseKit networks with their weights: checked loading, built in a short-lived thread.

Which file holds a network's weights is for the caller to say (``rtnet.weights`` knows the
SenseKit layout); this module only knows what each kind of file must hold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar, get_args

import torch
from torch import Tensor

from rtnet.errors import ConfigError
from rtnet.models.backbones import (
    BACKBONES,
    BackboneName,
    Precision,
    StreamingBackbone,
    backbone_signature,
)
from rtnet.models.checkpoint import Signature, load_state_dict
from rtnet.models.heads import Head, HeadKind, head_signature, make_head

T = TypeVar("T")

# A SenseKit checkpoint holds one backbone (by network) or one head (by kind).
CheckpointKind = Literal["efficientnet", "mobilenet", "fitness", "gestures", "reps", "met"]
CHECKPOINT_KINDS: tuple[CheckpointKind, ...] = get_args(CheckpointKind)

# What a file of each kind holds, for messages ("they look like mobilenet backbone weights").
DESCRIPTIONS: dict[CheckpointKind, str] = {
    "efficientnet": "efficientnet backbone weights",
    "mobilenet": "mobilenet backbone weights",
    "fitness": "fitness classifier head weights",
    "gestures": "gestures classifier head weights",
    "reps": "rep-counting head weights",
    "met": "MET (calorie) regressor head weights",
}


def checkpoint_signature(kind: CheckpointKind) -> Signature:
    if kind in BACKBONES:
        return backbone_signature(kind)
    return head_signature(kind)


def load_checkpoint(path: str | Path, kind: CheckpointKind) -> dict[str, Tensor]:
    """The state dict of a SenseKit checkpoint of ``kind``: keys, shapes and values checked, and
    a file of another kind recognised as such."""
    if kind not in DESCRIPTIONS:
        raise ConfigError(f"unknown checkpoint kind {kind!r}: use one of {', '.join(DESCRIPTIONS)}")
    return load_state_dict(
        path,
        checkpoint_signature(kind),
        what=DESCRIPTIONS[kind],
        look_alikes={
            DESCRIPTIONS[other]: checkpoint_signature(other)
            for other in CHECKPOINT_KINDS
            if other != kind
        },
    )


def build_backbone(
    name: BackboneName,
    checkpoint: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    precision: Precision = "fp32",
    fast: bool = True,
) -> StreamingBackbone:
    """The backbone ``name`` in eval mode, with weights from ``checkpoint`` (untrained if None).

    Loading is strict and every failure is a WeightsError naming the file.
    """
    if name not in BACKBONES:
        raise ConfigError(f"unknown model {name!r}: use one of {', '.join(BACKBONES)}")

    def build() -> StreamingBackbone:
        model = BACKBONES[name]()
        if checkpoint is not None:
            model.load_state_dict(load_checkpoint(checkpoint, name), strict=True)
        model.to(device)
        model.eval()
        return model.configure(fast=fast, precision=precision)

    return build_off_thread(build)


def build_head(
    kind: HeadKind, checkpoint: str | Path | None = None, *, device: str | torch.device = "cpu"
) -> Head:
    """The head ``kind`` in eval mode with weights from ``checkpoint`` (untrained if None)."""

    def build() -> Head:
        head = make_head(kind)
        if checkpoint is not None:
            head.load_state_dict(load_checkpoint(checkpoint, kind), strict=True)
        head.to(device)
        head.eval()
        return head

    return build_off_thread(build)


def build_off_thread(build: Callable[[], T]) -> T:
    """``build()``, run in a short-lived thread (exceptions are raised here).

    Loading weights copies tensors with OpenMP, and libgomp keeps a worker pool for each thread
    that ran parallel work, as long as that thread lives. A pool left idle in the caller's thread
    (the main one, while inference runs in another) makes libgomp count more threads than cores
    and all but stop spinning at barriers, so every parallel region of the inference thread pays
    a futex wake-up: efficientnet steps were ~25% slower on 2 cores. A finished thread takes its
    pool with it.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(build())
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=run, name="rtnet-load")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]
