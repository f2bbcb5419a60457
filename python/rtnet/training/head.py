"""The trainable head of a custom classifier: where things are, and how that changes over seconds.

SenseKit's heads average each step's (1280, 8, 8) features over the grid, which throws away
*where* things are; two classes that differ only in the path of a movement (up or down, a circle
clockwise or counter-clockwise) then look the same. This head keeps a coarse grid (the 8x8 maps
pooled to ``grid`` x ``grid`` cells) and looks at a context of ``steps`` model steps (2 s by
default), at every feature the backbone gives (``features_per_step``: 4 for lite0, which gives one
per frame, 16 a second; 1 for the SenseKit backbones, whose own temporal layers summarise a step).

It works in two stages, so that live use and training compute the same numbers cheaply:

- per feature (one frame, or one step): a learned projection of each cell's features, how much
  each cell changed since the previous feature (over all channels: whatever moves, in whatever
  colour), and a learned projection of the whole frame's features (:meth:`TemporalHead.encode`);
- per window: each cell's projection minus its mean over the window (what changes, not what the
  background looks like: with a few videos per class, a head that sees raw features learns the
  backgrounds by heart), through depthwise-separable temporal convolutions, pooled over time (mean
  and max: the same answer whichever phase of a repeated movement the window starts at), beside
  the change averaged over each half of the window (where things were early and late in it: the
  path of a movement that does not repeat), and the window's mean appearance
  (:meth:`TemporalHead.classify_windows`).

A projection is linear, so "projection minus its window mean" equals "projection of the change":
the 1280-channel projection runs once per feature, not once per feature per window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rtnet.models.backbones import FEATURES


@dataclass(frozen=True)
class HeadConfig:
    steps: int = 8  # model steps of context: 8 steps of 4 frames = 2 s at 16 fps
    grid: int = 4  # the 8x8 feature maps pooled to grid x grid cells
    motion_channels: int = 8  # learned features of each cell, per feature
    appearance_channels: int = 8  # learned features of the whole frame
    temporal_channels: int = 48  # width of the temporal convolutions
    features_per_step: int = 1  # the backbone's features per model step (lite0: 4)
    dropout: float = 0.3
    # The first ``direct_channels`` of each feature also go in as they are, beside the learned
    # projections: the pose backbone's body place and scale (see pose_backbone), the clearest
    # signal it has, which a projection learnt from a few clips would mix with noisier ones.
    direct_channels: int = 0

    @property
    def window(self) -> int:
        """Features in one window: the context."""
        return self.steps * self.features_per_step

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)


# Changes of the features from one frame to the next are small (about 0.01): brought to the order
# of the other inputs, so weight decay does not silence them.
ENERGY_SCALE = 30.0
# Direct channels move by about 0.1 (a tenth of the frame): to about 1, above the projections'
# noise (held-out steps of tests/motion_figure.py --person: 97.4-99.3% at 4, 99.3-100% at 8).
DIRECT_SCALE = 8.0
KERNEL = 5  # temporal kernel, in features: 0.3 s at 16 Hz
SEGMENTS = 2  # halves of a window whose change the classifier sees as such (early, late)


class TemporalHead(nn.Module):
    """Windows of ``(N, window, 1280, grid, grid)`` pooled features -> ``(N, classes)`` logits;
    :meth:`encode` then :meth:`classify_windows` are the same in two stages."""

    def __init__(self, num_classes: int, config: HeadConfig, features: int = FEATURES) -> None:
        super().__init__()
        self.config = config
        self.pool = nn.AdaptiveAvgPool2d(config.grid)
        self.motion = nn.Conv2d(features, config.motion_channels, 1, bias=False)
        self.appearance = nn.Linear(features, config.appearance_channels)
        self.dropout = nn.Dropout(config.dropout)
        cells = config.grid**2
        inputs = cells * (2 * (config.motion_channels + config.direct_channels) + 1)
        width = config.temporal_channels
        self.temporal = nn.Sequential(
            nn.Conv1d(inputs, width, KERNEL, padding=KERNEL // 2),
            nn.ReLU(),
            # Depthwise over time, dilated: 0.8 s of receptive field at 16 Hz with few weights.
            nn.Conv1d(width, width, KERNEL, padding=KERNEL - 1, dilation=2, groups=width),
            nn.Conv1d(width, width, 1),
            nn.ReLU(),
        )
        # The change in SEGMENTS stretches of the window, straight to the classifier.
        trajectory = SEGMENTS * inputs
        self.classify = nn.Linear(2 * width + trajectory + config.appearance_channels, num_classes)

    @property
    def encoded_channels(self) -> int:
        config = self.config
        return config.grid**2 * (config.motion_channels + config.direct_channels + 1) + (
            config.appearance_channels
        )

    def encode(self, features: Tensor, previous: Tensor | None = None) -> Tensor:
        """``(T, 1280, H, W)`` consecutive features (pooled to the grid or not) -> ``(T, E)``
        per-feature codes. ``previous``: the pooled feature before the first (None at the start
        of a stream: no change)."""
        grid = self.config.grid
        cells = features if features.shape[-2:] == (grid, grid) else self.pool(features)
        before = torch.cat([cells[:1] if previous is None else previous, cells[:-1]])
        energy = (cells - before).abs().mean(dim=1).flatten(1) * ENERGY_SCALE
        motion = self.motion(cells)
        if self.config.direct_channels:
            direct = cells[:, : self.config.direct_channels] * DIRECT_SCALE
            motion = torch.cat([motion, direct], dim=1)
        motion = motion.flatten(1)
        appearance = self.appearance(cells.mean(dim=(-2, -1)))
        return torch.cat([motion, energy, appearance], dim=1)

    def classify_windows(self, codes: Tensor) -> Tensor:
        """``(N, window, E)`` codes of windows -> ``(N, classes)`` logits."""
        config = self.config
        window = codes.shape[1]
        if window != config.window:
            raise ValueError(f"expected windows of {config.window} features, got {window}")
        cells = config.grid**2
        split = cells * (config.motion_channels + config.direct_channels)
        motion, energy, appearance = codes.split([split, cells, config.appearance_channels], dim=2)
        change = motion - motion.mean(dim=1, keepdim=True)
        sequence = torch.cat([torch.relu(change), torch.relu(-change), energy], dim=2)
        hidden = self.temporal(self.dropout(sequence).transpose(1, 2))[..., :window]
        pooled = torch.cat([hidden.mean(dim=2), hidden.amax(dim=2)], dim=1)
        path = F.adaptive_avg_pool1d(sequence.transpose(1, 2), SEGMENTS).flatten(1)
        still = torch.relu(appearance.mean(dim=1))
        inputs = torch.cat([pooled, path, still], dim=1)
        logits: Tensor = self.classify(self.dropout(inputs))
        return logits

    def forward(self, windows: Tensor) -> Tensor:
        """Each window as a stream of its own (its first feature: no change)."""
        return self.classify_windows(torch.stack([self.encode(window) for window in windows]))


def windows_of(codes: Tensor, window: int, ends: Tensor) -> Tensor:
    """``(T, E)`` codes of one stream -> ``(len(ends), window, E)``: the windows ending at
    ``ends``; before the stream's start a window repeats its first code, as
    :class:`StreamingHead` does while it fills up."""
    padded = torch.cat([codes[:1].expand(window - 1, -1), codes])
    index = ends.unsqueeze(1) + torch.arange(window).unsqueeze(0)  # into padded
    return padded[index]


class StreamingHead(nn.Module):
    """The head for live use: the features of consecutive model steps in, one probability
    vector per step out.

    It keeps the codes of the last ``window`` features; until it has that many (the first
    seconds of a stream) it repeats the oldest one, as if the scene had been still before.
    """

    def __init__(self, head: TemporalHead) -> None:
        super().__init__()
        self.head = head.eval()
        self._codes: deque[Tensor] = deque(maxlen=head.config.window)
        self._previous: Tensor | None = None

    def reset(self) -> None:
        self._codes.clear()
        self._previous = None

    def forward(self, features: Tensor) -> Tensor:
        """``(steps * features_per_step, 1280, H, W)`` -> ``(steps, classes)`` probabilities."""
        per_step = self.head.config.features_per_step
        if features.shape[0] % per_step:
            raise ValueError(
                f"expected a multiple of {per_step} features (one model step each), "
                f"got {features.shape[0]}"
            )
        rows = []
        with torch.no_grad():
            cells = pool_features(features.float(), self.head.config.grid)
            codes = self.head.encode(cells, self._previous)
            self._previous = cells[-1:]
            for start in range(0, len(codes), per_step):
                self._codes.extend(codes[start : start + per_step])
                window = list(self._codes)
                window = [window[0]] * (self.head.config.window - len(window)) + window
                logits = self.head.classify_windows(torch.stack(window).unsqueeze(0))
                rows.append(torch.softmax(logits, dim=-1)[0])
        return torch.stack(rows)


def pool_features(features: Tensor, grid: int) -> Tensor:
    """What the head does first: the feature maps averaged over ``grid`` x ``grid`` cells (the
    feature cache keeps them so, 4 to 16 times smaller)."""
    return F.adaptive_avg_pool2d(features, grid)
