"""The PyTorch ports of MediaPipe's pose and hand networks against LiteRT running the originals.

The .tflite files come from the mediapipe wheel on PyPI (downloaded once into a cache folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import cv2
import numpy as np
import pytest
import torch
from safetensors import safe_open

from rtnet.errors import ConfigError, WeightsError
from rtnet.models import bf16_supported, build_landmark_model
from rtnet.models.landmarks import (
    LANDMARK_MODELS,
    MEDIAPIPE_VERSION,
    WEIGHTS_DIR,
    LandmarkModelName,
    LandmarkNetwork,
    load_weights,
    weights_path,
)

NAMES: tuple[LandmarkModelName, ...] = get_args(LandmarkModelName)

# Max abs difference to LiteRT (XNNPACK, as MediaPipe runs it), per output: (raw, after the
# sigmoid the app applies, or None). Landmarks and boxes are in input pixels.
#
# The fast path (the kernel program, what the apps run) sums in XNNPACK's order: LiteRT's own
# values (test_fast_networks_give_litert_bits), well inside the targets, 1e-3 px and 1e-4.
FAST_TOLERANCES: dict[str, tuple[tuple[float, float | None], ...]] = {
    "pose_detector": ((1e-3, None), (1e-4, 1e-4)),
    "pose_landmarks": ((1e-3, None), (1e-4, None), (1e-4, 1e-4), (1e-4, None), (1e-4, None)),
    "palm_detector": ((1e-3, None), (1e-4, 1e-4)),
    "hand_landmarks": ((1e-3, None), (1e-4, None), (1e-4, None), (1e-4, None)),
}
# The plain path (PyTorch's own kernels, the readable reference) sums in other orders. Where a
# bound is larger than the targets, LiteRT disagrees with itself by as much: on these inputs its
# XNNPACK and reference kernels differ by up to 1.5e-3 px (pose detector boxes), 1.0e-2 px (pose
# landmarks), 8.5e-4 px (hand landmarks), 5.2 (segmentation logits of ~1700), and the exact
# (float64) evaluation of the network is as far from either.
TOLERANCES: dict[str, tuple[tuple[float, float | None], ...]] = {
    "pose_detector": ((4e-3, None), (2e-3, 1e-4)),
    "pose_landmarks": ((2.5e-2, None), (1e-4, None), (10.0, 1e-2), (2e-3, None), (2e-4, None)),
    "palm_detector": ((1e-3, None), (1e-4, 1e-4)),
    "hand_landmarks": ((2e-3, None), (1e-4, None), (1e-4, None), (1e-5, None)),
}


def input_range(name: LandmarkModelName) -> tuple[float, float]:
    return (-1.0, 1.0) if name == "pose_detector" else (0.0, 1.0)


@pytest.fixture(scope="session")
def video_frames(reference_dir: Path) -> list[np.ndarray]:
    """Three RGB frames of the reference video: a person exercising in a room."""
    capture = cv2.VideoCapture(str(reference_dir / "video.mkv"))
    frames = []
    for index in range(51):
        ok, frame = capture.read()
        assert ok
        if index % 25 == 0:
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def real_inputs(name: LandmarkModelName, frames: list[np.ndarray]) -> list[np.ndarray]:
    """Square crops of the frames (left, centre, right of the first), scaled as the app does."""
    size = LANDMARK_MODELS[name].network.input_size
    low, high = input_range(name)
    crops = []
    for index, frame in enumerate(frames):
        height, width = frame.shape[:2]
        left = (width - height) * index // (len(frames) - 1)
        crop = cv2.resize(
            frame[:, left : left + height], (size, size), interpolation=cv2.INTER_AREA
        )
        crops.append((crop.astype(np.float32) / 255 * (high - low) + low)[None])
    return crops


def random_inputs(name: LandmarkModelName) -> list[np.ndarray]:
    size = LANDMARK_MODELS[name].network.input_size
    low, high = input_range(name)
    return [
        np.random.default_rng(seed).uniform(low, high, (1, size, size, 3)).astype(np.float32)
        for seed in range(2)
    ]


Case = tuple[np.ndarray, list[np.ndarray]]  # images, LiteRT's outputs


@pytest.fixture(scope="module")
def litert_cases(tflite_dir: Path, video_frames: list[np.ndarray]) -> dict[str, list[Case]]:
    """Per network: random and real inputs, with what LiteRT (one thread) computes for them."""
    from ai_edge_litert.interpreter import Interpreter

    cases: dict[str, list[Case]] = {}
    for name in NAMES:
        interpreter = Interpreter(
            model_path=str(tflite_dir / LANDMARK_MODELS[name].tflite), num_threads=1
        )
        interpreter.allocate_tensors()
        cases[name] = []
        for images in random_inputs(name) + real_inputs(name, video_frames):
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], images)
            interpreter.invoke()
            outputs = interpreter.get_output_details()
            cases[name].append((images, [interpreter.get_tensor(o["index"]) for o in outputs]))
    return cases


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x.astype(np.float64)))  # no overflow at +-1700


def assert_close(
    name: LandmarkModelName,
    got: list[np.ndarray],
    expected: list[np.ndarray],
    tolerances: dict[str, tuple[tuple[float, float | None], ...]] = TOLERANCES,
) -> None:
    assert len(got) == len(expected) == len(tolerances[name])
    for output, g, e, (raw, after_sigmoid) in zip(
        LANDMARK_MODELS[name].network.outputs, got, expected, tolerances[name], strict=True
    ):
        assert g.shape == e.shape and g.dtype == e.dtype == np.float32, output
        diff = float(np.abs(g - e).max())
        assert diff <= raw, f"{name} {output}: max abs diff {diff:.3g} > {raw:g}"
        if after_sigmoid is not None:
            diff = float(np.abs(sigmoid(g) - sigmoid(e)).max())
            assert diff <= after_sigmoid, f"{name} sigmoid({output}): {diff:.3g} > {after_sigmoid}"


@pytest.fixture(scope="module")
def networks() -> dict[tuple[str, bool], LandmarkNetwork]:
    return {(n, fast): build_landmark_model(n, fast=fast) for n in NAMES for fast in (False, True)}


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
@pytest.mark.parametrize("name", NAMES)
def test_matches_litert(
    name: LandmarkModelName,
    fast: bool,
    networks: dict[tuple[str, bool], LandmarkNetwork],
    litert_cases: dict[str, list[Case]],
) -> None:
    network = networks[(name, fast)]
    for images, expected in litert_cases[name]:
        got = [output.numpy() for output in network(torch.from_numpy(images))]
        assert_close(name, got, expected, FAST_TOLERANCES if fast else TOLERANCES)


@pytest.mark.parametrize("name", NAMES)
def test_fast_networks_give_litert_bits(
    name: LandmarkModelName,
    networks: dict[tuple[str, bool], LandmarkNetwork],
    litert_cases: dict[str, list[Case]],
) -> None:
    """XNNPACK's order of sums, kernel by kernel: the same float32 values, not just close ones.
    The outputs behind a sigmoid (pose flag, hand presence and handedness) come from PyTorch's
    sigmoid, not LiteRT's approximation of it: a few units in the last place apart."""
    after_sigmoid = {"pose_flag", "presence", "handedness"}
    for images, expected in litert_cases[name]:
        got = networks[(name, True)](torch.from_numpy(images))
        for output, g, e in zip(LANDMARK_MODELS[name].network.outputs, got, expected, strict=True):
            if output in after_sigmoid:
                np.testing.assert_allclose(g.numpy(), e, rtol=5e-7, atol=1e-30, err_msg=output)
            else:
                np.testing.assert_array_equal(g.numpy(), e, err_msg=output)


@pytest.mark.parametrize("name", NAMES)
def test_fast_matches_plain_on_a_batch(
    name: LandmarkModelName,
    networks: dict[tuple[str, bool], LandmarkNetwork],
    video_frames: list[np.ndarray],
) -> None:
    batch = torch.from_numpy(np.concatenate(real_inputs(name, video_frames)))
    plain = [output.numpy() for output in networks[(name, False)](batch)]
    fast = [output.numpy() for output in networks[(name, True)](batch)]
    assert_close(name, fast, plain)
    # A batch computes each image as alone.
    single = [output.numpy() for output in networks[(name, False)](batch[1:2])]
    for whole, one in zip(plain, single, strict=True):
        np.testing.assert_allclose(whole[1:2], one, rtol=0, atol=1e-3 * max(1, np.abs(one).max()))


def test_converter_reproduces_the_shipped_weights(tflite_dir: Path, tmp_path: Path) -> None:
    from rtnet.models.landmarks.convert import write_weights

    written = write_weights(tflite_dir, tmp_path)
    assert sorted(p.name for p in written) == sorted(
        p.name for p in WEIGHTS_DIR.glob("*.safetensors")
    )
    for path in written:
        assert path.read_bytes() == (WEIGHTS_DIR / path.name).read_bytes(), path.name


@pytest.mark.parametrize("name", NAMES)
def test_shipped_weights_are_fp16_and_complete(name: LandmarkModelName) -> None:
    path = weights_path(name)
    network = LANDMARK_MODELS[name].network()
    with safe_open(path, "pt") as weights:
        keys = set(weights.keys())
        assert all(weights.get_slice(k).get_dtype() == "F16" for k in keys)
        metadata = weights.metadata()
    assert keys == set(network.state_dict())
    model = LANDMARK_MODELS[name]
    source = f"mediapipe=={MEDIAPIPE_VERSION} {model.tflite} sha256:{model.sha256} (Apache-2.0)"
    assert metadata == {"source": source}


def test_weights_load_strictly(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(weights_path("palm_detector"))
    network = LANDMARK_MODELS["palm_detector"].network()
    missing = dict(state)
    missing.pop(sorted(missing)[0])
    save_file(missing, tmp_path / "missing.safetensors")
    with pytest.raises(WeightsError, match=r"not PalmDetector weights .*missing"):
        load_weights(network, tmp_path / "missing.safetensors")
    wrong = dict(state)
    key = sorted(wrong)[0]
    wrong[key] = wrong[key][:1].clone()
    save_file(wrong, tmp_path / "wrong.safetensors")
    with pytest.raises(WeightsError, match="not PalmDetector weights"):
        load_weights(network, tmp_path / "wrong.safetensors")
    infinite = dict(state)
    infinite[key] = torch.full_like(state[key], float("inf"))
    save_file(infinite, tmp_path / "infinite.safetensors")
    with pytest.raises(WeightsError, match="NaN or infinite"):
        load_weights(network, tmp_path / "infinite.safetensors")
    (tmp_path / "garbage.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match="cannot read"):
        load_weights(network, tmp_path / "garbage.safetensors")


def test_bad_names_shapes_and_precisions() -> None:
    with pytest.raises(ConfigError, match="unknown landmark model"):
        build_landmark_model("face_mesh")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown precision"):
        build_landmark_model("palm_detector", precision="fp16")  # type: ignore[arg-type]
    network = build_landmark_model("palm_detector")
    with pytest.raises(ValueError, match=r"expected \(N, 192, 192, 3\)"):
        network(torch.zeros(1, 3, 192, 192))


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_bf16_runs_where_native(fast: bool, video_frames: list[np.ndarray]) -> None:
    name: LandmarkModelName = "hand_landmarks"
    if not bf16_supported():
        with pytest.raises(ConfigError, match="bf16"):
            build_landmark_model(name, precision="bf16", fast=fast)
        return
    images = torch.from_numpy(real_inputs(name, video_frames)[1])
    network = build_landmark_model(name, precision="bf16", fast=fast)
    got = network(images)
    expected = build_landmark_model(name, fast=False)(images)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == torch.float32 and g.shape == e.shape and torch.isfinite(g).all()
    assert (got[0] - expected[0]).abs().max() < 16  # landmarks, px of 224
    if fast:  # its weights were rounded to bf16
        with pytest.raises(ConfigError, match="stays"):
            network.configure(fast=False, precision="fp32")
