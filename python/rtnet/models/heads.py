"""Heads on top of the backbone features (N, 1280, 8, 8): classifiers and the MET regressor."""

from __future__ import annotations

import functools
from typing import Literal

import torch
from torch import Tensor, nn

from rtnet.errors import ConfigError
from rtnet.labels import load_labels
from rtnet.models.backbones import FEATURES
from rtnet.models.checkpoint import Signature, signature_of

HeadKind = Literal["fitness", "gestures", "reps", "met"]
HEAD_KINDS: tuple[HeadKind, ...] = ("fitness", "gestures", "reps", "met")


class LogisticRegression(nn.Sequential):
    """Mean over the feature grid, Linear, softmax: class probabilities (keys ``0.*``)."""

    def __init__(self, num_classes: int, features: int = FEATURES) -> None:
        super().__init__(nn.Linear(features, num_classes))

    def forward(self, features: Tensor) -> Tensor:
        with torch.no_grad():
            logits = super().forward(features.mean(dim=(-2, -1)))
            return torch.softmax(logits, dim=-1)


class METRegressor(nn.Module):
    """Mean over the feature grid, 1280-100-1 MLP with ReLUs: MET value per step, shape (N, 1)."""

    def __init__(self, features: int = FEATURES, hidden: int = 100) -> None:
        super().__init__()
        self.met_regressor = nn.Sequential(
            nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, 1), nn.ReLU()
        )

    def forward(self, features: Tensor) -> Tensor:
        with torch.no_grad():
            met: Tensor = self.met_regressor(features.mean(dim=(-2, -1)))
            return met


Head = LogisticRegression | METRegressor


def make_head(kind: HeadKind) -> Head:
    """An untrained head of ``kind``; classifier sizes come from the packaged labels."""
    if kind == "met":
        return METRegressor()
    if kind in ("fitness", "gestures", "reps"):
        return LogisticRegression(len(load_labels().for_head(kind)))
    raise ConfigError(f"unknown head {kind!r}: use one of {', '.join(HEAD_KINDS)}")


@functools.cache
def head_signature(kind: HeadKind) -> Signature:
    """State-dict keys and shapes a checkpoint of head ``kind`` must have."""
    with torch.device("meta"):
        return signature_of(make_head(kind))
