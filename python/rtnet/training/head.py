"""The trainable head of a custom classifier: it looks at the last few model steps, not one.

SenseKit's heads average each step's (1280, 8, 8) features over the grid, which throws away
*where* things are; two classes that differ only in the direction of a movement (a swipe left, a
swipe right) then look the same. This head keeps a coarse grid and sees ``steps`` consecutive
model steps at once, so where-and-when, i.e. motion, is learnable even by a linear layer.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from rtnet.models.backbones import FEATURES


@dataclass(frozen=True)
class HeadConfig:
    steps: int = 4  # model steps seen at once: 4 steps of 4 frames = 1 s at 16 fps
    channels: int = 32  # learned features per grid cell and step
    grid: int = 4  # the 8x8 feature map pooled to grid x grid cells
    dropout: float = 0.5

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)


class TemporalHead(nn.Module):
    """``(N, steps, 1280, H, W)`` features -> ``(N, classes)`` logits.

    Pooling comes first: average pooling and a 1x1 convolution commute, so features may be
    pooled once when cached (the training set then takes 4x less memory) and the head gives the
    same result on pooled or full maps.
    """

    def __init__(self, num_classes: int, config: HeadConfig, features: int = FEATURES) -> None:
        super().__init__()
        self.config = config
        self.pool = nn.AdaptiveAvgPool2d(config.grid)
        self.reduce = nn.Conv2d(features, config.channels, 1)
        self.dropout = nn.Dropout(config.dropout)
        self.classify = nn.Linear(config.steps * config.channels * config.grid**2, num_classes)

    def forward(self, windows: Tensor) -> Tensor:
        n, steps = windows.shape[:2]
        if steps != self.config.steps:
            raise ValueError(f"expected windows of {self.config.steps} steps, got {steps}")
        cells = self.pool(windows.flatten(0, 1))
        per_step = torch.relu(self.reduce(cells))
        logits: Tensor = self.classify(self.dropout(per_step.reshape(n, -1)))
        return logits


class StreamingHead(nn.Module):
    """The head for live use: one step's features per call in, class probabilities out.

    It keeps the last ``steps`` feature maps; until it has that many (the first second of a
    stream) it repeats the oldest one, as if the scene had been still before.
    """

    def __init__(self, head: TemporalHead) -> None:
        super().__init__()
        self.head = head.eval()
        self._history: deque[Tensor] = deque(maxlen=head.config.steps)

    def reset(self) -> None:
        self._history.clear()

    def forward(self, features: Tensor) -> Tensor:
        """``(N, 1280, H, W)`` consecutive steps -> ``(N, classes)`` probabilities."""
        rows = []
        with torch.no_grad():
            for step in features:
                self._history.append(self.head.pool(step.float()))
                window = list(self._history)
                window = [window[0]] * (self._history.maxlen - len(window)) + window  # type: ignore[operator]
                logits = self.head(torch.stack(window).unsqueeze(0))
                rows.append(torch.softmax(logits, dim=-1)[0])
        return torch.stack(rows)
