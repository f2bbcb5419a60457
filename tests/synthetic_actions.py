"""Generated videos of four "actions" for the custom-classifier tests: a shape moving left,
moving right, growing, or staying still, with random colours, sizes, shapes and backgrounds.
Written losslessly (FFV1) at 16 fps, small, so that a whole dataset extracts in seconds."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

ACTIONS = ("growing", "moving_left", "moving_right", "static")
FPS = 16
SIZE = (160, 120)  # width, height


def _background(rng: np.random.Generator) -> np.ndarray:
    width, height = SIZE
    kind = rng.integers(3)
    if kind == 0:  # flat colour
        return np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8), (height, width, 3)).copy()
    if kind == 1:  # gradient between two colours
        a, b = rng.integers(0, 256, (2, 3)).astype(np.float32)
        t = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
        return np.broadcast_to(a + (b - a) * t, (height, width, 3)).astype(np.uint8)
    # smooth random colour blobs: texture that does not move
    blobs = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    return cv2.resize(blobs, SIZE, interpolation=cv2.INTER_CUBIC)


def _draw(
    frame: np.ndarray,
    shape: int,
    centre: tuple[float, float],
    radius: float,
    colour: tuple[int, int, int],
) -> None:
    x, y, r = round(centre[0]), round(centre[1]), max(2, round(radius))
    if shape == 0:
        cv2.circle(frame, (x, y), r, colour, cv2.FILLED, cv2.LINE_AA)
    else:
        cv2.rectangle(frame, (x - r, y - r), (x + r, y + r), colour, cv2.FILLED)


def action_frames(action: str, rng: np.random.Generator, frames: int) -> list[np.ndarray]:
    width, height = SIZE
    background = _background(rng)
    # The shape's colour: of a few random ones, the one farthest from every background pixel,
    # so that it stays visible wherever it goes.
    candidates = rng.integers(0, 256, (12, 3))
    pixels = background.reshape(-1, 3).astype(np.int32)
    contrast = [np.abs(pixels - c).sum(axis=1).min() for c in candidates]
    best = candidates[int(np.argmax(contrast))]
    colour = (int(best[0]), int(best[1]), int(best[2]))
    shape = int(rng.integers(2))
    radius = float(rng.uniform(12, 20))
    y = float(rng.uniform(0.35, 0.65) * height)
    x = float(rng.uniform(0.35, 0.65) * width)
    travel = float(rng.uniform(0.6, 0.75) * width)
    out = []
    for i in range(frames):
        t = i / max(frames - 1, 1)
        centre, r = (x, y), radius
        if action == "moving_right":
            centre = (width / 2 - travel / 2 + travel * t, y)
        elif action == "moving_left":
            centre = (width / 2 + travel / 2 - travel * t, y)
        elif action == "growing":
            r = 4 + (radius * 2 - 4) * t
        frame = background.copy()
        _draw(frame, shape, centre, r, colour)
        out.append(frame)
    return out


def write_video(path: Path, frames: list[np.ndarray], fps: float = FPS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"FFV1"), fps, (width, height))
    assert writer.isOpened(), f"cannot write {path}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def write_action(path: Path, action: str, seed: int, seconds: float = 2.0) -> Path:
    rng = np.random.default_rng([ACTIONS.index(action), seed])
    return write_video(path, action_frames(action, rng, round(seconds * FPS)))


def make_dataset(root: Path, train: int = 6, valid: int = 2) -> Path:
    """``root/videos_{train,valid}/<action>/clip_<i>.mkv``; seeds differ between splits."""
    for action in ACTIONS:
        for i in range(train):
            write_action(root / "videos_train" / action / f"clip_{i}.mkv", action, i)
        for i in range(valid):
            write_action(root / "videos_valid" / action / f"clip_{i}.mkv", action, 1000 + i)
    return root
