"""Augmentations of a training video's features: more varied examples from a few clips.

They work on the cached feature maps (``(T, C, H, W)``, one per frame or per model step), so an
epoch costs no backbone pass: speed (the movement faster or slower), a small shift of the view
(a hand-held camera, a crop a little to the side), a gain on the features (lighting), and, opt-in,
a mirror image (for landmark features, a permutation of the channels: left and right swapped, x
negated; see ``rtnet.training.landmark_features``). A mirror turns "left" into "right" and
"clockwise" into "counter-clockwise", which are different classes for many users, so it is never
on by default.

Windows are also cut at every feature, not only at model-step ends as ``rtnet run`` does (a
temporal jitter of a fraction of a step); see ``rtnet.training.train``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Augmentation:
    speed: tuple[float, float] = (0.8, 1.25)  # playback speed factors, drawn log-uniformly
    shift: float = 0.06  # the view moves by up to this fraction of the frame, both axes
    gain: float = 0.1  # features scaled by 1 +- gain per video, +- gain/2 per channel
    mirror: bool = False  # flip left-right half of the time
    # Features whose mirror image is a permutation of channels (source index, sign), not a
    # flipped map: the pose backbone's landmarks.
    mirror_channels: tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]] | None = None

    def __call__(self, features: Tensor, rng: np.random.Generator) -> Tensor:
        x = _resample(features, math.exp(rng.uniform(*np.log(self.speed))))
        x = _shift(x, rng.uniform(-self.shift, self.shift, 2))
        channel_gain = 1 + rng.uniform(-self.gain / 2, self.gain / 2, x.shape[1])
        gain = torch.from_numpy(channel_gain * (1 + rng.uniform(-self.gain, self.gain)))
        x = x * gain.to(x.dtype).view(1, -1, 1, 1)
        if self.mirror and rng.random() < 0.5:
            x = x.flip(-1) if self.mirror_channels is None else _permute(x, *self.mirror_channels)
        return x


def _permute(
    features: Tensor, source: npt.NDArray[np.intp], sign: npt.NDArray[np.float32]
) -> Tensor:
    signs = torch.from_numpy(sign).to(features.dtype).view(1, -1, 1, 1)
    return features[:, torch.from_numpy(source)] * signs


def augmentation(augment: bool, mirror: bool, *, landmarks: bool = False) -> Augmentation | None:
    """What training applies: everything (``augment``), only the mirror image, or nothing.
    Landmark features (the pose backbone) get no shift or gain, which stand in for a camera
    and lighting that landmarks do not see; their mirror image swaps channels."""
    mirror_channels = None
    if landmarks:
        from rtnet.training.landmark_features import MIRROR_SIGN, MIRROR_SOURCE

        mirror_channels = (MIRROR_SOURCE, MIRROR_SIGN)
    if augment and not landmarks:
        return Augmentation(mirror=mirror)
    if augment:
        return Augmentation(shift=0.0, gain=0.0, mirror=mirror, mirror_channels=mirror_channels)
    if mirror:
        return Augmentation(
            speed=(1.0, 1.0), shift=0.0, gain=0.0, mirror=True, mirror_channels=mirror_channels
        )
    return None


def _resample(features: Tensor, speed: float) -> Tensor:
    """The features of the same video played ``speed`` times faster (linear interpolation)."""
    length = features.shape[0]
    target = max(2, round(length / speed))
    if target == length:
        return features
    position = torch.linspace(0, length - 1, target, dtype=torch.float64)
    low = position.floor().long().clamp(max=length - 1)
    high = (low + 1).clamp(max=length - 1)
    weight = (position - low).to(features.dtype).view(-1, 1, 1, 1)
    return features[low] * (1 - weight) + features[high] * weight


def _shift(features: Tensor, offset: np.ndarray) -> Tensor:
    """Feature maps moved by ``offset`` (fractions of the frame: x, y), edges repeated."""
    if features.shape[-1] == 1 and features.shape[-2] == 1:
        return features
    theta = torch.tensor(
        [[1.0, 0.0, 2 * offset[0]], [0.0, 1.0, 2 * offset[1]]], dtype=features.dtype
    )
    grid = F.affine_grid(theta.expand(features.shape[0], 2, 3), list(features.shape), False)
    return F.grid_sample(
        features, grid, mode="bilinear", padding_mode="border", align_corners=False
    )
