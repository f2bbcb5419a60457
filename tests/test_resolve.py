"""Which network a run runs: the one resolver, its families, the reason line, and the order in
which a run checks what a user can get wrong."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from rtnet import resolve as resolve_module
from rtnet.cli import main
from rtnet.errors import ConfigError, WeightsError
from rtnet.models import StreamingBackbone, StridedInflatedEfficientNet, StridedInflatedMobileNetV2
from rtnet.models.lite0 import Lite0Backbone
from rtnet.network import BackboneNetwork, Channels, Network
from rtnet.precision import Precision, PrecisionCache
from rtnet.resolve import Request, SenseKitModel, TrainedClassifier, load, resolve
from rtnet.training.backbones import choose_backbone
from rtnet.training.classifier import Checkpoint, ClassifierConfig
from rtnet.training.head import HeadConfig

# -- SenseKit apps -----------------------------------------------------------------------------


def test_an_app_resolves_to_the_first_model_found_with_a_reason(standin_weights_dir: Path) -> None:
    located = resolve(Request(app="gestures", weights_dir=standin_weights_dir))
    assert isinstance(located, SenseKitModel)
    assert located.reason == "model: efficientnet pro (SenseKit, --weights-dir)"
    assert located.label == "efficientnet pro"
    assert set(located.files.heads) == {"gestures"}
    # fitness prefers mobilenet (the catalogue's order), and the stand-ins hold one.
    fitness = resolve(Request(app="fitness", weights_dir=standin_weights_dir))
    assert fitness.reason == "model: mobilenet pro (SenseKit, --weights-dir)"


def test_model_options_narrow_the_choice(standin_weights_dir: Path) -> None:
    with pytest.raises(WeightsError, match="no SenseKit weights for gestures"):
        resolve(Request(app="gestures", model="mobilenet", weights_dir=standin_weights_dir))
    with pytest.raises(ConfigError, match="reps has no mobilenet model"):
        resolve(Request(app="reps", model="mobilenet", weights_dir=standin_weights_dir))


def test_missing_weights_are_found_missing_without_loading_anything(tmp_path: Path) -> None:
    # A SenseKit model asked for by name has no built-in fallback (without --model the apps run
    # on pose: test_pose_apps, test_gestures_pose).
    with pytest.raises(WeightsError, match="rtnet train"):
        resolve(Request(app="gestures", model="efficientnet", weights_dir=tmp_path))
    with pytest.raises(WeightsError, match="rtnet train"):
        resolve(Request(app="fitness", version="pro", weights_dir=tmp_path))


def test_a_located_sensekit_model_loads_in_the_precision_asked_for(
    standin_weights_dir: Path, tmp_path: Path
) -> None:
    located = resolve(Request(app="reps", weights_dir=standin_weights_dir))
    cache = PrecisionCache(tmp_path / "precision.json")
    loaded = load(located, precision="fp32", cache=cache)
    assert loaded.reason == (
        "model: efficientnet pro (SenseKit, --weights-dir); precision: fp32 (--precision fp32)"
    )
    network = loaded.network
    assert isinstance(network, BackboneNetwork)  # a clip network, not a per-frame one
    assert network.channels == "bgr"
    clip = np.random.default_rng(0).random((4, 3, 256, 256), dtype=np.float32)
    outputs = network(clip)
    assert set(outputs) == {"reps"}
    assert not cache.path.exists()  # an explicit precision measures nothing


# -- custom classifiers ------------------------------------------------------------------------


def _checkpoint(folder: Path, backbone: str, version: str | None) -> Checkpoint:
    config = ClassifierConfig(backbone=backbone, version=version, head=HeadConfig())
    return Checkpoint(folder, ("wave", "swipe"), config, head_state={}, backbone_state={})


def test_a_classifier_resolves_to_the_backbone_it_was_trained_on(
    tmp_path: Path, standin_weights_dir: Path
) -> None:
    on_lite0 = resolve(Request(classifier=_checkpoint(tmp_path / "v2", "lite0", None)))
    assert isinstance(on_lite0, TrainedClassifier)
    assert on_lite0.reason == "classifier v2 on lite0 (built in)"
    sensekit = _checkpoint(tmp_path / "v3", "efficientnet", "pro")
    on_sensekit = resolve(Request(classifier=sensekit, weights_dir=standin_weights_dir))
    assert on_sensekit.reason == "classifier v3 on efficientnet pro (SenseKit, --weights-dir)"
    with pytest.raises(ConfigError, match="leave out --model"):
        resolve(Request(classifier=sensekit, model="mobilenet", weights_dir=standin_weights_dir))
    with pytest.raises(WeightsError, match="no efficientnet pro"):
        resolve(Request(classifier=sensekit, weights_dir=tmp_path))


def test_classifier_backbones_follow_the_catalogue_order(
    tmp_path: Path, standin_weights_dir: Path
) -> None:
    from rtnet.weights import CLASSIFIER_BACKBONE_ORDER

    found = choose_backbone(weights_dir=standin_weights_dir)
    # The stand-ins hold efficientnet pro and mobilenet pro: the first of those in the order.
    present = [key for key in CLASSIFIER_BACKBONE_ORDER if key[1] == "pro"]
    assert (found.name, found.version) == present[0]
    assert found.origin == "--weights-dir"
    assert choose_backbone(weights_dir=tmp_path).name == "lite0"


# -- families ----------------------------------------------------------------------------------


class _Doubling:
    channels: Channels = "rgb"

    def reset(self) -> None:
        pass

    def __call__(self, clip: np.ndarray) -> Mapping[str, np.ndarray]:
        return {"twice": 2 * clip.mean(axis=(1, 2, 3))}


@dataclass(frozen=True)
class _DemoModel:
    """A located network of a family that runs in fp32 only (as the landmark models do)."""

    reason: str = "model: demo (built in)"
    label: str = "demo"
    model_key: str = "demo"
    precisions: tuple[Precision, ...] = ("fp32",)

    def features(self, device: str, precision: Precision) -> Callable[[torch.Tensor], torch.Tensor]:
        raise AssertionError("a family with one precision is never measured")

    def build(self, device: str, precision: Precision) -> Network:
        return _Doubling()


class _DemoFamily:
    name = "demo"

    def serves(self, request: Request) -> bool:
        return request.app == "demo"

    def locate(self, request: Request) -> _DemoModel:
        return _DemoModel()


def test_a_new_family_is_one_entry_in_the_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="no network runs 'demo'"):
        resolve(Request(app="demo"))
    monkeypatch.setattr(resolve_module, "FAMILIES", (*resolve_module.FAMILIES, _DemoFamily()))
    located = resolve(Request(app="demo"))
    assert located.reason == "model: demo (built in)"
    loaded = load(located, precision="auto", cache=PrecisionCache(tmp_path / "p.json"))
    assert loaded.precision.precision == "fp32"
    assert isinstance(loaded.network, _Doubling) and loaded.network.channels == "rgb"
    with pytest.raises(ConfigError, match="demo runs in fp32 only"):
        load(located, precision="bf16")


# -- the channel order: one class attribute per backbone ---------------------------------------


def test_the_built_in_landmark_models_are_a_family() -> None:
    located = resolve(Request(app="pose", hands=False))
    assert located.reason.startswith("model: pose landmarks (built in, MediaPipe")
    assert located.precisions == ("fp32",)
    assert resolve(Request(app="pose")).label == "pose + hands"


def test_each_backbone_declares_its_channel_order() -> None:
    assert StridedInflatedEfficientNet.channels == "bgr"  # SenseKit trained on OpenCV's BGR
    assert StridedInflatedMobileNetV2.channels == "bgr"
    assert Lite0Backbone.channels == "rgb"  # ImageNet weights
    for backbone in StreamingBackbone.__subclasses__():
        assert backbone.channels in ("rgb", "bgr"), backbone
    assert choose_backbone("lite0").channels == "rgb"


def test_a_network_takes_its_backbones_channel_order() -> None:
    backbone = Lite0Backbone()
    network: Network = BackboneNetwork(backbone, {})
    assert network.channels == "rgb"


# -- the order a user fixes things in ----------------------------------------------------------


@pytest.fixture
def no_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


@pytest.mark.usefixtures("no_display")
def test_missing_weights_are_reported_before_a_missing_display(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No window possible, no camera, no weights: the weights come first (--model: without it,
    # gestures would run on the built-in pose models).
    args = ["gestures", "--model", "efficientnet", "--weights-dir", str(tmp_path)]
    assert main([*args, "--no-history"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rtnet: error: no SenseKit weights for gestures"), err
    assert "display" not in err


@pytest.mark.usefixtures("no_display")
def test_the_reason_is_the_first_line_and_the_display_comes_next(
    standin_weights_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["gestures", "--weights-dir", str(standin_weights_dir), "--no-history"])
    assert status == 2
    lines = capsys.readouterr().err.splitlines()
    assert "model: efficientnet pro (SenseKit, --weights-dir)" in lines[0]
    assert lines[-1].startswith("rtnet: error: no display")
