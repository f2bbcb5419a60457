"""The streaming backbones against the reference goldens, and the heads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rtnet import FrameRing
from rtnet.errors import ConfigError, WeightsError
from rtnet.labels import load_labels
from rtnet.models import (
    HEAD_KINDS,
    BackboneName,
    LogisticRegression,
    METRegressor,
    StridedInflatedMobileNetV2,
    backbone_signature,
    build_backbone,
    build_head,
    head_signature,
    load_checkpoint,
)
from rtnet.models import backbones as backbones_module
from rtnet.models import layers as layers_module
from rtnet.models.loading import build_off_thread
from rtnet.network import BackboneNetwork

NETWORKS = {"efficientnet": "sien", "mobilenet": "simn"}
CHECKPOINTS = {
    "efficientnet": "backbone/strided_inflated_efficientnet.ckpt",
    "mobilenet": "backbone/strided_inflated_mobilenet.ckpt",
}
HEAD_FILES = {
    "fitness": "fitness_activity_recognition/simn_logreg.ckpt",
    "gestures": "gesture_recognition/sien_logreg.ckpt",
    "reps": "fitness_rep_counting/sien_logreg.ckpt",
    "met": "calorie_estimation/simn_met_converter.ckpt",
}
TOLERANCE = 1e-4  # the reference README's agreement; never loosen it


def golden_input(step: int) -> np.ndarray:
    """Input of call ``step`` of backbones.npz, as the reference README defines it."""
    return np.random.default_rng([1, 1000 + step]).random((4, 3, 256, 256), dtype=np.float32)


@pytest.fixture(scope="module")
def reference_clips(reference_dir: Path) -> list[np.ndarray]:
    """The clips the engine makes of video.mkv: every 4 frames, through the FrameRing."""
    import cv2

    capture = cv2.VideoCapture(str(reference_dir / "video.mkv"))
    ring, clips, ok = FrameRing(4, channels=StridedInflatedMobileNetV2.channels), [], True
    while ok:
        for _ in range(4):
            ok, frame = capture.read()
            if not ok:
                break
            ring.push(np.asarray(frame, np.uint8))
        else:
            clips.append(ring.clip())
    capture.release()
    return clips


@pytest.fixture(scope="module")
def goldens(reference_dir: Path) -> dict[str, np.ndarray]:
    with np.load(reference_dir / "backbones.npz") as data:
        return {key: data[key] for key in data.files}


def test_state_dict_layout_is_the_original(manifest: dict) -> None:
    for name, tag in NETWORKS.items():
        expected = tuple((key, tuple(shape)) for key, shape in manifest["tensors"][tag])
        assert backbone_signature(name) == expected
    for kind in HEAD_KINDS:
        expected = tuple((key, tuple(shape)) for key, shape in manifest["tensors"][kind])
        assert head_signature(kind) == expected


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
@pytest.mark.parametrize("name", ["mobilenet", "efficientnet"])
def test_backbone_matches_golden_over_consecutive_calls(
    name: BackboneName, fast: bool, standin_weights_dir: Path, goldens: dict[str, np.ndarray]
) -> None:
    tag = NETWORKS[name]
    # Weights written by the fill rule to a legacy-format file, read through the real loader.
    model = build_backbone(name, standin_weights_dir / CHECKPOINTS[name], fast=fast)
    assert not model.training
    outputs = goldens[f"{tag}_outputs"]
    for step in range(len(outputs)):
        frames = golden_input(step)
        np.testing.assert_array_equal(frames.reshape(-1)[:8], goldens[f"{tag}_input_probe"][step])
        features = model(torch.from_numpy(frames))
        assert features.shape == (1, 1280, 8, 8)
        assert features.dtype == torch.float32
        diff = np.abs(features.numpy() - outputs[step]).max()
        assert diff <= TOLERANCE, f"{name} call {step}: max abs diff {diff}"


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_reset_restores_the_initial_state(
    fast: bool, standin_weights_dir: Path, goldens: dict[str, np.ndarray]
) -> None:
    model = build_backbone("mobilenet", standin_weights_dir / CHECKPOINTS["mobilenet"], fast=fast)
    first = model(torch.from_numpy(golden_input(0))).numpy()
    model(torch.from_numpy(golden_input(1)))
    model.reset()
    again = model(torch.from_numpy(golden_input(0))).numpy()
    np.testing.assert_array_equal(again, first)
    assert np.abs(again - goldens["simn_outputs"][0]).max() <= TOLERANCE
    # And the state carries on from there as in the golden sequence.
    second = model(torch.from_numpy(golden_input(1))).numpy()
    assert np.abs(second - goldens["simn_outputs"][1]).max() <= TOLERANCE


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_one_long_call_equals_consecutive_short_calls(
    fast: bool, standin_weights_dir: Path, goldens: dict[str, np.ndarray]
) -> None:
    # Time on the batch axis: 8 frames at once must equal two calls of 4 (and then go on).
    model = build_backbone("mobilenet", standin_weights_dir / CHECKPOINTS["mobilenet"], fast=fast)
    both = torch.from_numpy(np.concatenate([golden_input(0), golden_input(1)]))
    features = model(both).numpy()
    assert features.shape == (2, 1280, 8, 8)
    assert np.abs(features - goldens["simn_outputs"][:2]).max() <= TOLERANCE
    third = model(torch.from_numpy(golden_input(2))).numpy()
    assert np.abs(third - goldens["simn_outputs"][2]).max() <= TOLERANCE


@pytest.mark.parametrize("shape", [(3, 3, 256, 256), (4, 1, 256, 256), (3, 256, 256)])
def test_backbone_rejects_frames_it_cannot_stream(shape: tuple[int, ...]) -> None:
    model = build_backbone("mobilenet", fast=False)
    with pytest.raises(ValueError, match="multiple of 4"):
        model(torch.zeros(shape))


def test_unknown_backbone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown model 'resnet'"):
        build_backbone("resnet")  # type: ignore[arg-type]


def test_bf16_without_native_support_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backbones_module, "bf16_supported", lambda device: False)
    with pytest.raises(ConfigError, match="native bf16"):
        build_backbone("mobilenet", precision="bf16")


def test_bf16_computes_close_to_fp32_or_is_refused(standin_weights_dir: Path) -> None:
    path = standin_weights_dir / CHECKPOINTS["mobilenet"]
    if not backbones_module.bf16_supported():
        with pytest.raises(ConfigError, match="native bf16"):
            build_backbone("mobilenet", path, precision="bf16")
        return
    frames = torch.from_numpy(golden_input(0))
    reference = build_backbone("mobilenet", path)(frames)
    features = build_backbone("mobilenet", path, precision="bf16")(frames)
    assert features.dtype == torch.float32 and features.shape == reference.shape
    # bf16 keeps ~3 significant digits: the features stay strongly correlated, not equal.
    correlation = np.corrcoef(features.numpy().ravel(), reference.numpy().ravel())[0, 1]
    assert correlation > 0.99


@pytest.mark.parametrize(("name", "kind"), [("efficientnet", "gestures"), ("mobilenet", "fitness")])
def test_bf16_fast_path_keeps_the_reference_pipelines_top1(
    name: str, kind: str, standin_weights_dir: Path, reference_dir: Path, reference_clips: list
) -> None:
    path = standin_weights_dir / CHECKPOINTS[name]
    if not backbones_module.bf16_supported():
        with pytest.raises(ConfigError, match="native bf16"):
            build_backbone(name, path, precision="bf16")  # type: ignore[arg-type]
        return
    backbone = build_backbone(name, path, precision="bf16")  # type: ignore[arg-type]
    head = build_head(kind, standin_weights_dir / HEAD_FILES[kind])  # type: ignore[arg-type]
    network = BackboneNetwork(backbone, {kind: head})
    probs = np.stack([network(clip)[kind] for clip in reference_clips])
    with np.load(reference_dir / "pipeline.npz") as pipeline:
        golden = pipeline[f"{kind}_probs"]
    assert probs.shape == golden.shape == (16, golden.shape[1])
    # Random-weight networks give near-uniform probabilities (top-1 margins down to 0.005):
    # every step must still keep its class; bf16 moves probabilities by well under 0.02.
    np.testing.assert_array_equal(probs.argmax(axis=1), golden.argmax(axis=1))
    assert np.abs(probs - golden).max() < 0.02


def test_fast_path_follows_weights_loaded_after_it_ran(
    standin_weights_dir: Path, goldens: dict[str, np.ndarray]
) -> None:
    model = build_backbone("mobilenet")  # untrained; the first call prepares its weights
    model(torch.from_numpy(golden_input(0)))
    path = standin_weights_dir / CHECKPOINTS["mobilenet"]
    model.load_state_dict(load_checkpoint(path, "mobilenet"))
    model.reset()
    diff = np.abs(model(torch.from_numpy(golden_input(0))).numpy() - goldens["simn_outputs"][0])
    assert diff.max() <= TOLERANCE


def test_fast_path_without_onednn_kernels_matches_the_golden(
    monkeypatch: pytest.MonkeyPatch, standin_weights_dir: Path, goldens: dict[str, np.ndarray]
) -> None:
    # As on CUDA or a PyTorch without oneDNN: the fused convolutions fall back to plain ops.
    monkeypatch.setattr(layers_module, "onednn_available", lambda device: False)
    model = build_backbone("mobilenet", standin_weights_dir / CHECKPOINTS["mobilenet"])
    for step in range(2):
        features = model(torch.from_numpy(golden_input(step))).numpy()
        assert np.abs(features - goldens["simn_outputs"][step]).max() <= TOLERANCE


def test_loading_errors_reach_the_caller(tmp_path: Path) -> None:
    bad = tmp_path / "strided_inflated_mobilenet.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match=r"strided_inflated_mobilenet\.ckpt"):
        build_backbone("mobilenet", bad)

    def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        build_off_thread(fail)


@pytest.mark.parametrize("kind", HEAD_KINDS)
def test_heads_load_and_compute_their_outputs(kind: str, standin_weights_dir: Path) -> None:
    head = build_head(kind, standin_weights_dir / HEAD_FILES[kind])  # type: ignore[arg-type]
    assert not head.training
    features = torch.from_numpy(
        np.random.default_rng(7).standard_normal((3, 1280, 8, 8)).astype(np.float32)
    )
    out = head(features)
    pooled = features.numpy().mean(axis=(2, 3)).astype(np.float64)
    params = {key: value.numpy().astype(np.float64) for key, value in head.state_dict().items()}
    if kind == "met":
        assert isinstance(head, METRegressor)
        hidden = np.maximum(
            pooled @ params["met_regressor.0.weight"].T + params["met_regressor.0.bias"], 0
        )
        expected = np.maximum(
            hidden @ params["met_regressor.2.weight"].T + params["met_regressor.2.bias"], 0
        )
        assert out.shape == (3, 1)
    else:
        assert isinstance(head, LogisticRegression)
        logits = pooled @ params["0.weight"].T + params["0.bias"]
        expected = np.exp(logits - logits.max(axis=1, keepdims=True))
        expected /= expected.sum(axis=1, keepdims=True)
        assert out.shape == (3, len(load_labels().for_head(kind)))  # type: ignore[arg-type]
        np.testing.assert_allclose(out.sum(dim=1).numpy(), 1.0, atol=1e-5)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_labels_are_packaged_in_head_order() -> None:
    labels = load_labels()
    assert (len(labels.fitness), len(labels.gestures), len(labels.reps)) == (81, 30, 5)
    assert set(labels.gesture_event_thresholds) <= set(labels.gestures)
    assert labels.for_head("reps")[3] == "counting - jumping_jacks_position=arms_down"
    with pytest.raises(ValueError):
        labels.for_head("met")  # type: ignore[arg-type]
