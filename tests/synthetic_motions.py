"""A harder generated set of six motions for the custom-classifier tests and the held-out figure:
a ball circling clockwise, circling counter-clockwise, moving up, moving down, waving (swinging
side to side on an arc), or doing nothing, at 0.5-2 Hz for the periodic ones.

Every clip has its own look: a textured background (blotches of colour at several scales, a
few "furniture" edges, lighting that falls off across the room), a shaded ball of a random colour
and size, a hand-held camera's sway (a slow random drift of the whole view, with a little
rotation), sensor noise, and a frame rate drawn from what cameras and files have (12 to 30 fps,
resampled to 16 fps by rtnet like any video). Written losslessly (FFV1), small (160x120), so that
a dataset extracts in seconds to minutes.

Directions are on screen, as a viewer sees the clip: "clockwise" turns like a clock's hands.
Mirrored, circle_cw becomes circle_ccw: a flipped clip is another class, which is why mirroring
is an opt-in augmentation in ``rtnet train``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from synthetic_actions import write_video

MOTIONS = ("circle_ccw", "circle_cw", "moving_down", "moving_up", "nothing", "waving")
SIZE = (160, 120)  # width, height
Path2D = Callable[[float], tuple[float, float]]  # time (s) -> centre (x, y) in view pixels
FPS_CHOICES = (12.0, 15.0, 16.0, 24.0, 25.0, 30.0)
MARGIN = 16  # the background is larger than the view, so that the camera can sway over it


def _background(rng: np.random.Generator) -> np.ndarray:
    """A room-like texture: colour blotches at several scales, edges, uneven light."""
    width, height = SIZE[0] + 2 * MARGIN, SIZE[1] + 2 * MARGIN
    base = rng.uniform(40, 215, 3)
    image = np.broadcast_to(base, (height, width, 3)).astype(np.float32).copy()
    for cells, strength in ((3, 60.0), (7, 35.0), (18, 20.0), (45, 12.0)):
        shape = (cells, max(2, cells * width // height))
        # Mostly light and shade, a little colour: walls, wood, fabric rather than a rainbow.
        noise = rng.normal(0.0, 1.0, (*shape, 1)) + 0.3 * rng.normal(0.0, 1.0, (*shape, 3))
        image += (
            cv2.resize(noise.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
            * strength
        )
    for _ in range(int(rng.integers(2, 6))):  # shelves, door frames, picture edges
        colour = rng.uniform(0, 255, 3).tolist()
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            x1, y1 = x0 + int(rng.integers(20, 80)), y0 + int(rng.integers(3, 12))
        else:
            x1, y1 = x0 + int(rng.integers(3, 12)), y0 + int(rng.integers(20, 80))
        cv2.rectangle(image, (x0, y0), (x1, y1), colour, cv2.FILLED)
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :, None]
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None, None]
    light = 1.0 + 0.25 * (rng.uniform(-1, 1) * xs + rng.uniform(-1, 1) * ys)
    return np.clip(image * light, 0, 255).astype(np.float32)


def _ball_sprite(rng: np.random.Generator, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """A shaded ball (BGR float) and its soft mask, (2r+1) square."""
    size = 2 * radius + 1
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1].astype(np.float32)
    distance = np.sqrt(xx**2 + yy**2) / radius
    mask = np.clip((1.0 - distance) * radius, 0.0, 1.0)  # anti-aliased edge
    colour = rng.uniform(0, 255, 3).astype(np.float32)
    light = np.clip(
        1.15 - 0.6 * np.sqrt((xx / radius + 0.35) ** 2 + (yy / radius + 0.35) ** 2), 0.3, 1.2
    )
    sprite = np.clip(colour[None, None, :] * light[:, :, None], 0, 255)
    assert sprite.shape[:2] == (size, size)
    return sprite, mask


def _paste(canvas: np.ndarray, sprite: np.ndarray, mask: np.ndarray, x: float, y: float) -> None:
    radius = sprite.shape[0] // 2
    cx, cy = round(x), round(y)
    height, width = canvas.shape[:2]
    x0, y0 = cx - radius, cy - radius
    sx0, sy0 = max(0, -x0), max(0, -y0)
    sx1 = min(sprite.shape[1], width - x0)
    sy1 = min(sprite.shape[0], height - y0)
    if sx1 <= sx0 or sy1 <= sy0:
        return
    region = canvas[y0 + sy0 : y0 + sy1, x0 + sx0 : x0 + sx1]
    alpha = mask[sy0:sy1, sx0:sx1, None]
    region[:] = region * (1 - alpha) + sprite[sy0:sy1, sx0:sx1] * alpha


def path(motion: str, rng: np.random.Generator, seconds: float) -> Path2D:
    """The ball's centre (x, y) in view pixels as a function of time in seconds."""
    width, height = SIZE
    cx = width / 2 + rng.uniform(-0.12, 0.12) * width
    cy = height / 2 + rng.uniform(-0.1, 0.1) * height
    frequency = rng.uniform(0.5, 2.0)
    phase = rng.uniform(0, 2 * math.pi)
    if motion in ("circle_cw", "circle_ccw"):
        radius = rng.uniform(0.2, 0.3) * height
        aspect = rng.uniform(0.85, 1.3)  # a hand draws ellipses
        sign = 1.0 if motion == "circle_cw" else -1.0  # y points down: +angle turns clockwise

        def circle(t: float) -> tuple[float, float]:
            angle = phase + sign * 2 * math.pi * frequency * t
            return cx + aspect * radius * math.cos(angle), cy + radius * math.sin(angle)

        return circle
    if motion == "waving":
        # A hand on a forearm pivoting below it: a wide side-to-side arc, little height change.
        arm = rng.uniform(0.35, 0.5) * height
        swing = math.radians(rng.uniform(25, 40))
        pivot_y = cy + arm * 0.75

        def wave(t: float) -> tuple[float, float]:
            angle = swing * math.sin(phase + 2 * math.pi * frequency * t)
            return cx + arm * math.sin(angle), pivot_y - arm * math.cos(angle)

        return wave
    if motion in ("moving_up", "moving_down"):
        travel = rng.uniform(0.55, 0.75) * height
        drift = rng.uniform(-0.1, 0.1) * width
        sign = -1.0 if motion == "moving_up" else 1.0

        def line(t: float) -> tuple[float, float]:
            u = t / seconds - 0.5
            return cx + drift * u, height / 2 + sign * travel * u

        return line
    if motion == "nothing":
        # Held still by a hand: a slight tremor, well below any of the movements above.
        tremor = rng.uniform(0.5, 2.0)

        def still(t: float) -> tuple[float, float]:
            return cx + tremor * math.sin(7.0 * t + phase), cy + tremor * math.cos(5.0 * t)

        return still
    raise ValueError(f"unknown motion {motion!r}")


def motion_frames(
    motion: str, rng: np.random.Generator, seconds: float, fps: float
) -> list[np.ndarray]:
    width, height = SIZE
    background = _background(rng)
    radius = int(rng.integers(9, 15))
    sprite, mask = _ball_sprite(rng, radius)
    centre = path(motion, rng, seconds)
    # Camera sway: a slow drift of the whole view (two sines per axis) and a little rotation.
    sway = rng.uniform(2.0, 6.0, 2)
    sway_f = rng.uniform(0.15, 0.6, (2, 2))
    sway_p = rng.uniform(0, 2 * math.pi, (2, 2))
    tilt = rng.uniform(0.0, 2.0)  # degrees
    brightness = rng.uniform(0.85, 1.15)
    out = []
    for i in range(round(seconds * fps)):
        t = i / fps
        scene = background.copy()
        x, y = centre(t)
        _paste(scene, sprite, mask, x + MARGIN, y + MARGIN)
        dx = sway[0] * (
            math.sin(2 * math.pi * sway_f[0, 0] * t + sway_p[0, 0]) * 0.7
            + 0.3 * math.sin(2 * math.pi * sway_f[0, 1] * t + sway_p[0, 1])
        )
        dy = sway[1] * (
            math.sin(2 * math.pi * sway_f[1, 0] * t + sway_p[1, 0]) * 0.7
            + 0.3 * math.sin(2 * math.pi * sway_f[1, 1] * t + sway_p[1, 1])
        )
        angle = tilt * math.sin(2 * math.pi * sway_f[0, 0] * t + sway_p[1, 1])
        matrix = cv2.getRotationMatrix2D((width / 2 + MARGIN, height / 2 + MARGIN), angle, 1.0)
        matrix[:, 2] += (-MARGIN - dx, -MARGIN - dy)
        view = cv2.warpAffine(
            scene, matrix, SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        noise = rng.normal(0.0, 3.0, (height, width, 3))
        out.append(np.clip(np.asarray(view) * brightness + noise, 0, 255).astype(np.uint8))
    return out


def write_motion(
    path_out: Path, motion: str, seed: int, seconds: float = 3.0, fps: float | None = None
) -> Path:
    rng = np.random.default_rng([MOTIONS.index(motion), seed, 13])
    rate = float(rng.choice(FPS_CHOICES)) if fps is None else fps
    return write_video(path_out, motion_frames(motion, rng, seconds, rate), fps=rate)


def make_motion_dataset(
    root: Path,
    train: int = 8,
    valid: int = 2,
    test: int = 0,
    seconds: float = 3.0,
    motions: Sequence[str] = MOTIONS,
    write: Callable[[Path, str, int, float], Path] = write_motion,
) -> Path:
    """``root/videos_{train,valid,test}/<motion>/clip_<i>.mkv``; every clip has its own seed;
    ``write`` draws a clip (``write_motion``: a ball)."""
    for motion in motions:
        for split, count, offset in (
            ("train", train, 0),
            ("valid", valid, 1000),
            ("test", test, 2000),
        ):
            for i in range(count):
                clip = root / f"videos_{split}" / motion / f"clip_{i}.mkv"
                write(clip, motion, offset + i, seconds)
    return root
