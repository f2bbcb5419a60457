"""The trainable head of a custom classifier: it looks at the last few model steps, not one.

SenseKit's heads average each step's (1280, 8, 8) features over the grid, which throws away
*where* things are; two classes that differ only in the direction of a movement (a swipe left, a
swipe right) then look the same. This head sees ``steps`` consecutive model steps on a coarse grid
and splits them into what stays (their mean: the scene, the pose) and what changes (each step's
departure from that mean: the motion). With a few videos per class, a head that sees raw features
learns the videos' backgrounds and colours by heart; the change, on the other hand, looks alike
for every "moving left", whatever moves and wherever.
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
    grid: int = 4  # the 8x8 feature maps pooled to grid x grid cells
    motion_channels: int = 16  # learned features of the change, per cell and step
    appearance_channels: int = 16  # learned features of what stays, for the whole frame
    dropout: float = 0.3

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)


# Changes of the features over a second are small (about 0.01 to 0.1): brought to the order of
# the other inputs of the classifier, so weight decay does not silence them.
ENERGY_SCALE = 10.0


class TemporalHead(nn.Module):
    """``(N, steps, 1280, H, W)`` features -> ``(N, classes)`` logits.

    What the classifier sees of a window, per grid cell and step: learned projections of the
    change, both signs kept apart (so it can tell "more" from "less" and also tell "any change
    at all"), and the change's energy over all channels (whatever moves, in whatever colour);
    for the whole frame: learned features of what stays.

    Pooling to the grid comes first, so the head gives the same result on full maps and on maps
    pooled in advance (training keeps its features pooled: 4x less memory).
    """

    def __init__(self, num_classes: int, config: HeadConfig, features: int = FEATURES) -> None:
        super().__init__()
        self.config = config
        self.pool = nn.AdaptiveAvgPool2d(config.grid)
        self.motion = nn.Conv2d(features, config.motion_channels, 1)
        self.appearance = nn.Conv2d(features, config.appearance_channels, 1)
        self.dropout = nn.Dropout(config.dropout)
        cells = config.steps * config.grid**2
        inputs = cells * (2 * config.motion_channels + 1) + config.appearance_channels
        self.classify = nn.Linear(inputs, num_classes)

    def forward(self, windows: Tensor) -> Tensor:
        n, steps = windows.shape[:2]
        if steps != self.config.steps:
            raise ValueError(f"expected windows of {self.config.steps} steps, got {steps}")
        cells = self.pool(windows.flatten(0, 1)).unflatten(0, (n, steps))
        still = cells.mean(dim=1)
        moving = cells - still.unsqueeze(1)
        motion = self.motion(moving.flatten(0, 1)).reshape(n, -1)
        energy = moving.abs().mean(dim=2).reshape(n, -1) * ENERGY_SCALE
        appearance = torch.relu(self.appearance(still.mean(dim=(-2, -1), keepdim=True)))
        inputs = [torch.relu(motion), torch.relu(-motion), energy, appearance.flatten(1)]
        logits: Tensor = self.classify(self.dropout(torch.cat(inputs, dim=1)))
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
