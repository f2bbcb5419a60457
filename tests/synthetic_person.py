"""The six motions of tests/synthetic_motions.py performed by a person, for comparing the pose
backbone (``rtnet train --backbone pose``) with lite0 on the same videos.

A frame is a textured room (synthetic_motions' background) and a real photo of a person (the
tracking tests' astronaut, head and shoulders) moved along the motion's path: circling either
way, moving up or down, swaying side to side on an arc ("waving"), or held still, seen through a
hand-held camera's sway. The built-in pose tracker finds the person in these frames and lite0
sees the pixels: both backbones get the same videos. (A drawn hand moved the same way is found
by the palm detector on too few frames to be a fair test.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from synthetic_actions import write_video
from synthetic_motions import FPS_CHOICES, MOTIONS, _background, make_motion_dataset, path
from synthetic_motions import SIZE as MOTION_SIZE

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tracking"
SIZE = (320, 240)  # width, height: the trackers want a person and a hand of some size
SCALE = SIZE[0] / MOTION_SIZE[0]  # the motions' paths are in synthetic_motions' pixels


def person_frames(
    motion: str, rng: np.random.Generator, seconds: float, fps: float
) -> list[np.ndarray]:
    width, height = SIZE
    person = cv2.imread(str(FIXTURES / "astronaut.png"))
    assert person is not None, "tests/fixtures/tracking/astronaut.png missing"
    room = cv2.resize(_background(rng), (width + 40, height + 40), interpolation=cv2.INTER_LINEAR)
    # The person: 0.6-0.75 of the frame's height, square (the photo's own backdrop around them).
    size = int(rng.uniform(0.6, 0.75) * height)
    body = cv2.resize(person, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    centre = path(motion, rng, seconds)
    sway = rng.uniform(2.0, 6.0, 2)
    sway_f = rng.uniform(0.15, 0.6, 2)
    sway_p = rng.uniform(0, 2 * math.pi, 2)
    brightness = rng.uniform(0.85, 1.15)
    out = []
    for i in range(round(seconds * fps)):
        t = i / fps
        scene = room.copy()
        x, y = centre(t)
        x0, y0 = round(x * SCALE - size / 2) + 20, round(y * SCALE - size / 2) + 20
        sx0, sy0 = max(0, -x0), max(0, -y0)
        sx1, sy1 = min(size, scene.shape[1] - x0), min(size, scene.shape[0] - y0)
        if sx1 > sx0 and sy1 > sy0:
            scene[y0 + sy0 : y0 + sy1, x0 + sx0 : x0 + sx1] = body[sy0:sy1, sx0:sx1]
        dx = 20 + sway[0] * math.sin(2 * math.pi * sway_f[0] * t + sway_p[0])
        dy = 20 + sway[1] * math.sin(2 * math.pi * sway_f[1] * t + sway_p[1])
        matrix = np.array([[1, 0, -dx], [0, 1, -dy]], np.float32)
        view = cv2.warpAffine(scene, matrix, SIZE, flags=cv2.INTER_LINEAR)
        noise = np.asarray(rng.normal(0.0, 3.0, view.shape), np.float32)
        view = view.astype(np.float32) * brightness + noise
        out.append(np.clip(view, 0, 255).astype(np.uint8))
    return out


def write_person_motion(
    path_out: Path, motion: str, seed: int, seconds: float = 3.0, fps: float | None = None
) -> Path:
    rng = np.random.default_rng([MOTIONS.index(motion), seed, 29])
    rate = float(rng.choice(FPS_CHOICES)) if fps is None else fps
    return write_video(path_out, person_frames(motion, rng, seconds, rate), fps=rate)


def make_person_dataset(
    root: Path,
    train: int = 8,
    valid: int = 2,
    test: int = 0,
    seconds: float = 3.0,
    motions: Sequence[str] = MOTIONS,
) -> Path:
    """``root/videos_{train,valid,test}/<motion>/clip_<i>.mkv``, as make_motion_dataset, with a
    person moving."""
    return make_motion_dataset(root, train, valid, test, seconds, motions, write_person_motion)
