"""MediaPipe 0.10.14's pose and hand networks in PyTorch, with their weights (Apache-2.0: NOTICE).

``build_landmark_model(name)`` returns a network that takes and returns the same tensors as the
``.tflite`` file it was converted from (``convert.py`` converts; the weights ship in ``weights/``).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from rtnet.errors import ConfigError
from rtnet.models.backbones import Precision
from rtnet.models.checkpoint import load_state_dict
from rtnet.models.landmarks.hand_landmarks import HandLandmarks
from rtnet.models.landmarks.network import LandmarkNetwork
from rtnet.models.landmarks.palm_detector import PalmDetector
from rtnet.models.landmarks.pose_detector import PoseDetector
from rtnet.models.landmarks.pose_landmarks import PoseLandmarks
from rtnet.models.loading import build_off_thread

LandmarkModelName = Literal["pose_detector", "pose_landmarks", "palm_detector", "hand_landmarks"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MEDIAPIPE_VERSION = "0.10.14"


@dataclass(frozen=True)
class LandmarkModel:
    """A network and the MediaPipe file its weights come from."""

    network: type[LandmarkNetwork]
    tflite: str  # path inside the mediapipe wheel
    sha256: str  # of that file


LANDMARK_MODELS: dict[LandmarkModelName, LandmarkModel] = {
    "pose_detector": LandmarkModel(
        PoseDetector,
        "mediapipe/modules/pose_detection/pose_detection.tflite",
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    ),
    "pose_landmarks": LandmarkModel(
        PoseLandmarks,
        "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
    ),
    "palm_detector": LandmarkModel(
        PalmDetector,
        "mediapipe/modules/palm_detection/palm_detection_full.tflite",
        "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54",
    ),
    "hand_landmarks": LandmarkModel(
        HandLandmarks,
        "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
        "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
    ),
}


def mediapipe_files(source: Path) -> Iterator[tuple[LandmarkModelName, bytes]]:
    """(model name, .tflite bytes) from a mediapipe wheel or an unpacked one, checked by sha256:
    what the converter reads, and what ``rtnet bench pose`` compares with."""
    for name, model in LANDMARK_MODELS.items():
        if source.is_dir():
            data = (source / model.tflite).read_bytes()
        else:
            with zipfile.ZipFile(source) as wheel:
                data = wheel.read(model.tflite)
        digest = hashlib.sha256(data).hexdigest()
        if digest != model.sha256:
            raise ValueError(f"{model.tflite}: sha256 {digest}, expected {model.sha256}")
        yield name, data


def weights_path(name: LandmarkModelName) -> Path:
    """Where the converted weights of ``name`` ship."""
    return WEIGHTS_DIR / f"{name}.safetensors"


def load_weights(network: LandmarkNetwork, path: Path) -> None:
    """Load ``path`` into ``network``: every key, every shape, finite values, else WeightsError."""
    expected = tuple((key, tuple(value.shape)) for key, value in network.state_dict().items())
    state = load_state_dict(
        path,
        expected,
        what=f"{type(network).__name__} weights",
        remedy="reinstall rtnet (the built-in weights ship with it)",
    )
    network.load_state_dict(state, strict=True)


def build_landmark_model(
    name: LandmarkModelName,
    *,
    precision: Precision = "fp32",
    fast: bool = True,
    device: str | torch.device = "cpu",
) -> LandmarkNetwork:
    """The MediaPipe network ``name`` with its shipped weights, in eval mode."""
    if name not in LANDMARK_MODELS:
        raise ConfigError(
            f"unknown landmark model {name!r}: use one of {', '.join(LANDMARK_MODELS)}"
        )
    model = LANDMARK_MODELS[name]

    def build() -> LandmarkNetwork:
        network = model.network()
        load_weights(network, weights_path(name))
        network.to(device)
        network.eval()
        return network.configure(fast=fast, precision=precision)

    return build_off_thread(build)


__all__ = [
    "LANDMARK_MODELS",
    "MEDIAPIPE_VERSION",
    "HandLandmarks",
    "LandmarkModel",
    "LandmarkModelName",
    "LandmarkNetwork",
    "PalmDetector",
    "PoseDetector",
    "PoseLandmarks",
    "build_landmark_model",
    "load_weights",
    "weights_path",
]
