"""A custom classifier's temporal head, on feature tensors (no video, no backbone): live use
computes what training computes, it learns where things go (a path, its direction), and the
augmentations (mirroring only when asked for)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rtnet.training.augment import Augmentation, _resample
from rtnet.training.head import HeadConfig, StreamingHead, TemporalHead, windows_of
from rtnet.training.train import TrainOptions, _Model, _Split, min_features


@pytest.mark.parametrize("per_step", [4, 1], ids=["lite0", "sensekit"])
def test_streaming_head_computes_what_training_computes(per_step: int) -> None:
    """`rtnet run` feeds the head a step's features at a time; training cuts windows from a
    whole video's features: same windows (also while the context fills up), same numbers."""
    torch.manual_seed(0)
    config = HeadConfig(steps=4, features_per_step=per_step)
    head = TemporalHead(3, config).eval()
    features = torch.rand(10 * per_step, 1280, 8, 8)  # 10 model steps, unpooled as live
    streaming = StreamingHead(head)
    live = torch.cat([streaming(step) for step in features.split(3 * per_step)])
    assert live.shape == (10, 3)
    with torch.no_grad():
        codes = head.encode(features)
        ends = torch.arange(per_step - 1, len(features), per_step)
        trained = torch.softmax(
            head.classify_windows(windows_of(codes, config.window, ends)), dim=1
        )
    torch.testing.assert_close(live, trained, atol=1e-5, rtol=1e-4)
    streaming.reset()
    again = torch.cat([streaming(step) for step in features.split(per_step)])
    torch.testing.assert_close(again, live, atol=1e-5, rtol=1e-4)
    if per_step > 1:
        with pytest.raises(ValueError, match=f"multiple of {per_step}"):
            streaming(features[:1])  # a model step is all its features or none


CHANNELS = 32  # a small stand-in for the backbone's 1280: the same head, trained in seconds


def _circling(clockwise: bool, rng: np.random.Generator, frames: int = 40) -> torch.Tensor:
    """Feature maps (frames, C, 4, 4) of a thing going round the grid's ring of cells, on a
    random still background: its "look" is the same vector whichever way it turns."""
    background = torch.from_numpy(rng.random((CHANNELS, 4, 4), dtype=np.float32))
    look = torch.from_numpy(rng.random(CHANNELS, dtype=np.float32))
    ring = [(0, 1), (0, 2), (1, 3), (2, 3), (3, 2), (3, 1), (2, 0), (1, 0)]  # clockwise
    speed = rng.uniform(0.3, 0.8) * (1 if clockwise else -1)
    start = rng.uniform(0, len(ring))
    maps = background.expand(frames, -1, -1, -1).clone()
    for t in range(frames):
        position = (start + speed * t) % len(ring)
        row, column = ring[math.floor(position)]
        maps[t, :, row, column] += look
    return maps


def test_the_head_learns_the_direction_of_a_path() -> None:
    """Clockwise and counter-clockwise have the same things in the same places, on average
    over a window: only where things go next tells them apart."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    videos = [_circling(bool(i % 2), rng) for i in range(24)]
    targets = [i % 2 for i in range(24)]
    config = HeadConfig(steps=4, features_per_step=4, dropout=0.1)
    model = _Model(None, TemporalHead(2, config, features=CHANNELS))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    train = _Split([v.half() for v in videos[:16]], targets[:16])
    for _ in range(30):
        for video, target in zip(train.inputs, train.targets, strict=True):
            logits = model.windows(model.features(video), every=1)
            loss = torch.nn.functional.cross_entropy(logits, torch.full((len(logits),), target))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        right = [
            int(model.windows(video.float(), every=4).argmax(dim=1).float().mean().round())
            == target
            for video, target in zip(videos[16:], targets[16:], strict=True)
        ]
    assert all(right), right


def test_windows_start_at_half_the_context() -> None:
    config = HeadConfig(steps=8, features_per_step=4)
    assert config.window == 32 and min_features(config) == 16  # 1 s of a 2 s context
    model = _Model(None, TemporalHead(2, config).eval())
    with torch.no_grad():
        scored = model.windows(torch.rand(32, 1280, 4, 4), every=4)
    assert scored.shape == (5, 2)  # windows ending at features 15, 19, ..., 31: step ends


def test_mirroring_is_opt_in() -> None:
    """Mirrored, a clockwise circle is counter-clockwise: never done unless asked for."""
    assert TrainOptions(dataset=None).mirror is False  # type: ignore[arg-type]
    features = torch.rand(8, 16, 4, 4)
    identity = {"speed": (1.0, 1.0), "shift": 0.0, "gain": 0.0}
    rng = np.random.default_rng(0)
    plain = Augmentation(**identity)  # type: ignore[arg-type]
    assert all(torch.equal(plain(features, rng), features) for _ in range(20))
    mirror = Augmentation(**identity, mirror=True)  # type: ignore[arg-type]
    outputs = [mirror(features, rng) for _ in range(20)]
    flipped = sum(torch.equal(out, features.flip(-1)) for out in outputs)
    kept = sum(torch.equal(out, features) for out in outputs)
    assert flipped + kept == 20 and 3 <= flipped <= 17


def test_speed_augmentation_replays_the_same_movement_faster_or_slower() -> None:
    ramp = torch.arange(9, dtype=torch.float32).view(9, 1, 1, 1)
    slower = _resample(ramp, 0.5)
    assert slower.shape[0] == 18
    assert slower[0].item() == 0 and slower[-1].item() == 8
    assert torch.all(slower.diff(dim=0) > 0)
    faster = _resample(ramp, 2.0)
    assert faster.shape[0] == 4 and faster[-1].item() == 8
    changed = Augmentation()(torch.rand(16, 8, 4, 4), np.random.default_rng(1))
    assert changed.shape[1:] == (8, 4, 4) and 12 <= changed.shape[0] <= 20
