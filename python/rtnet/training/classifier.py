"""A trained custom classifier on disk (``DATASET/checkpoints/NAME/``) and running it live.

The folder holds ``classifier.pt`` (the head, plus any fine-tuned backbone layers, as one flat
state dict of tensors), ``labels.json`` (class names in output order) and ``config.json`` (backbone,
version, fps, step, head shape, metrics). The backbone itself is not copied: it is rebuilt from the
SenseKit files or the embedded lite0 weights, and fine-tuned layers are loaded over it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from rtnet.errors import ConfigError, WeightsError
from rtnet.models.backbones import Precision, StreamingBackbone
from rtnet.models.checkpoint import load_state_dict
from rtnet.network import BackboneNetwork
from rtnet.resample import MODEL_FPS, STEP_FRAMES
from rtnet.training.backbones import (
    BACKBONE_NAMES,
    BUILT_IN_NAMES,
    BackboneChoice,
    choose_backbone,
    features_per_step,
)
from rtnet.training.head import HeadConfig, StreamingHead, TemporalHead
from rtnet.training.pose_backbone import LandmarkClassifierNetwork

if TYPE_CHECKING:
    from rtnet.landmarks_in import LandmarksFile

# 2: a head over a context of features on a grid (lite0 per frame); format 1's head saw 1 s of
# lite0 features at 4 Hz, which the current lite0 no longer computes.
CHECKPOINT_FORMAT = 2
WEIGHTS_FILE = "classifier.pt"
LABELS_FILE = "labels.json"
CONFIG_FILE = "config.json"
HEAD_PREFIX = "head."
BACKBONE_PREFIX = "backbone."
OUTPUT = "classifier"  # the network output a classifier app reads


@dataclass(frozen=True)
class ClassifierConfig:
    """``config.json``: what the classifier needs to run, and how well it did."""

    backbone: str
    version: str | None
    head: HeadConfig
    finetune_layers: int = 0
    fps: float = MODEL_FPS
    step: int = STEP_FRAMES
    metrics: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)  # dataset summary, creation info

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "backbone": self.backbone,
            "version": self.version,
            "fps": self.fps,
            "step": self.step,
            "head": self.head.to_json(),
            "finetune_layers": self.finetune_layers,
            "metrics": dict(self.metrics),
            **dict(self.extra),
        }

    @classmethod
    def from_json(cls, raw: object, source: Path) -> ClassifierConfig:
        """The config in ``raw`` (parsed JSON), every field's type and range checked: a bad value
        is one ConfigError naming the file and the field, never a huge allocation later."""
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{source}: not a valid classifier config (a JSON object expected)")
        fields = _Fields(raw, source)
        version = fields.integer("format", 1, 10**6)
        if version > CHECKPOINT_FORMAT:
            raise ConfigError(
                f"{source}: written by a newer rtnet (format {version}): upgrade rtnet"
            )
        backbone = fields.choice("backbone", BACKBONE_NAMES)
        weights_version = fields.optional_choice(
            "version", () if backbone in BUILT_IN_NAMES else ("pro", "lite")
        )
        # After the fields every format has (a broken file is reported as broken), before the
        # head's, which format 1 lacked.
        if version < CHECKPOINT_FORMAT:
            raise ConfigError(
                f"{source}: a classifier of an older rtnet (format {version}), whose head this "
                "version cannot run -- train it again with `rtnet train` (the dataset's videos "
                "are all it needs)"
            )
        head = fields.nested("head", HeadConfig.__dataclass_fields__)
        config = cls(
            backbone=backbone,
            version=weights_version,
            head=HeadConfig(
                steps=head.integer("steps", 1, MAX_HEAD_STEPS),
                grid=head.integer("grid", 1, FEATURE_GRID),
                motion_channels=head.integer("motion_channels", 1, MAX_HEAD_CHANNELS),
                appearance_channels=head.integer("appearance_channels", 1, MAX_HEAD_CHANNELS),
                temporal_channels=head.integer("temporal_channels", 1, MAX_HEAD_CHANNELS),
                features_per_step=head.integer("features_per_step", 1, STEP_FRAMES),
                dropout=head.number("dropout", 0.0, 1.0, top_open=True),
                direct_channels=head.integer("direct_channels", 0, MAX_HEAD_CHANNELS, default=0),
            ),
            finetune_layers=fields.integer("finetune_layers", 0, MAX_FINETUNE_LAYERS),
            fps=fields.number("fps", 0.0, math.inf),
            step=fields.integer("step", 1, 10**6),
            metrics=fields.mapping("metrics"),
            extra={k: v for k, v in raw.items() if k not in _KNOWN_FIELDS},
        )
        if config.fps != MODEL_FPS or config.step != STEP_FRAMES:
            raise ConfigError(
                f"{source}: trained at {config.fps:g} fps with {config.step}-frame steps; "
                f"rtnet runs at {MODEL_FPS:g} fps with {STEP_FRAMES}-frame steps"
            )
        return config


# Bounds of config.json's head fields: far beyond any trained head, yet small enough that a
# tampered file cannot ask for a huge allocation (steps 10**12 would).
MAX_HEAD_STEPS = 64  # 16 s windows
MAX_HEAD_CHANNELS = 1024
FEATURE_GRID = 8  # the backbones' feature maps are 8x8
MAX_FINETUNE_LAYERS = 64  # more than any backbone has (efficientnet: 32)
_KNOWN_FIELDS = frozenset(
    {"format", "backbone", "version", "fps", "step", "head", "finetune_layers", "metrics"}
)


@dataclass(frozen=True)
class _Fields:
    """Typed, range-checked reads of a JSON object; errors name the file and the field."""

    raw: Mapping[str, Any]
    source: Path
    prefix: str = ""

    def _get(self, name: str) -> Any:
        if name not in self.raw:
            raise ConfigError(
                f"{self.source}: not a valid classifier config ({self._name(name)} is missing)"
            )
        return self.raw[name]

    def _name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _bad(self, name: str, value: Any, expected: str) -> ConfigError:
        try:
            shown = json.dumps(value)  # as written in the file: NaN, Infinity, "4", true
        except (TypeError, ValueError):
            shown = repr(value)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        return ConfigError(
            f"{self.source}: invalid {self._name(name)} {shown}: expected {expected}"
        )

    def integer(self, name: str, low: int, high: int, default: int | None = None) -> int:
        """``default``: the value when the field is absent (one newer than the format)."""
        if default is not None and name not in self.raw:
            return default
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._bad(name, value, f"a whole number from {low} to {high}")
        return value

    def number(self, name: str, low: float, high: float, *, top_open: bool = False) -> float:
        value = self._get(name)
        ok = (
            not isinstance(value, bool)
            and isinstance(value, (int, float))
            and math.isfinite(value)
            and low <= value
            and (value < high if top_open else value <= high)
        )
        if not ok:
            top = "" if math.isinf(high) else f" below {high:g}" if top_open else f" to {high:g}"
            raise self._bad(name, value, f"a finite number from {low:g}{top}")
        return float(value)

    def choice(self, name: str, options: tuple[str, ...]) -> str:
        value = self._get(name)
        if value not in options:
            raise self._bad(name, value, f"one of {', '.join(options)}")
        return str(value)

    def optional_choice(self, name: str, options: tuple[str, ...]) -> str | None:
        value = self._get(name)
        if value is None or value in options:
            return value
        expected = f"null or one of {', '.join(options)}" if options else "null"
        raise self._bad(name, value, expected)

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        if not isinstance(value, Mapping):
            raise self._bad(name, value, "a JSON object")
        return dict(value)

    def nested(self, name: str, allowed: Mapping[str, Any]) -> _Fields:
        value = self._get(name)
        if not isinstance(value, Mapping):
            raise self._bad(name, value, "a JSON object")
        unknown = [key for key in value if key not in allowed]
        if unknown:
            raise ConfigError(
                f"{self.source}: not a valid classifier config (unknown field "
                f"{self._name(name)}.{unknown[0]})"
            )
        return _Fields(value, self.source, f"{self._name(name)}.")


@dataclass(frozen=True)
class Checkpoint:
    folder: Path
    labels: tuple[str, ...]
    config: ClassifierConfig
    head_state: dict[str, Tensor]
    backbone_state: dict[str, Tensor]  # fine-tuned layers only (``cnn.<i>...`` keys)


def write_checkpoint(checkpoint: Checkpoint) -> Path:
    """Writes the folder as a whole: built beside it, then swapped in (never half-written)."""
    folder = checkpoint.folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkdtemp: its 0700 mode would stick to the final folder.
    staging = folder.with_name(f".{folder.name}-{uuid.uuid4().hex[:8]}")
    staging.mkdir()
    try:
        state = {HEAD_PREFIX + k: v.detach().cpu() for k, v in checkpoint.head_state.items()}
        state |= {
            BACKBONE_PREFIX + k: v.detach().cpu() for k, v in checkpoint.backbone_state.items()
        }
        torch.save(state, staging / WEIGHTS_FILE)
        (staging / LABELS_FILE).write_text(json.dumps(list(checkpoint.labels), indent=2) + "\n")
        (staging / CONFIG_FILE).write_text(json.dumps(checkpoint.config.to_json(), indent=2) + "\n")
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}-old-{os.getpid()}")
            os.replace(folder, old)
        os.replace(staging, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start})"
        ) from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read it ({err.strerror})") from None


def read_checkpoint(folder: str | Path) -> Checkpoint:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"classifier not found: {folder} (train one with `rtnet train DATASET`; they are "
            "written to DATASET/checkpoints/NAME)"
        )
    for name in (CONFIG_FILE, LABELS_FILE, WEIGHTS_FILE):
        if not (folder / name).is_file():
            raise ConfigError(f"{folder} is not a classifier checkpoint: {name} is missing")
    config = ClassifierConfig.from_json(_read_json(folder / CONFIG_FILE), folder / CONFIG_FILE)
    labels = _read_json(folder / LABELS_FILE)
    if not (isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)):
        raise ConfigError(f"{folder / LABELS_FILE}: expected a list of class names")
    state = load_state_dict(folder / WEIGHTS_FILE, what="classifier weights", remedy="train again")
    return Checkpoint(
        folder=folder,
        labels=tuple(labels),
        config=config,
        head_state={
            k.removeprefix(HEAD_PREFIX): v for k, v in state.items() if k.startswith(HEAD_PREFIX)
        },
        backbone_state={
            k.removeprefix(BACKBONE_PREFIX): v
            for k, v in state.items()
            if k.startswith(BACKBONE_PREFIX)
        },
    )


def load_layers(backbone: StreamingBackbone, state: Mapping[str, Tensor], source: Path) -> None:
    """Fine-tuned backbone layers over the base weights, checked key by key."""
    if not state:
        return
    expected = backbone.state_dict()
    for key, value in state.items():
        if key not in expected or expected[key].shape != value.shape:
            raise WeightsError(
                f"{source}: fine-tuned layer {key} does not fit the {type(backbone).__name__} "
                "backbone (trained on other weights?) -- train again"
            )
    backbone.load_state_dict(dict(state), strict=False)


def build_head(checkpoint: Checkpoint, features: int) -> TemporalHead:
    """The checkpoint's head, over features of ``features`` channels (its backbone's)."""
    head = TemporalHead(len(checkpoint.labels), checkpoint.config.head, features)
    try:
        head.load_state_dict(checkpoint.head_state, strict=True)
    except RuntimeError:
        raise WeightsError(
            f"{checkpoint.folder / WEIGHTS_FILE}: the head does not match labels.json and "
            "config.json -- train again"
        ) from None
    return head.eval()


class ClassifierNetwork(BackboneNetwork):
    """Backbone + streaming temporal head (reset with the backbone), as the engine runs any
    app's network."""

    def __init__(self, backbone: StreamingBackbone, head: TemporalHead, device: str) -> None:
        self.head = StreamingHead(head).to(device)
        super().__init__(backbone, {OUTPUT: self.head}, device=device)


@dataclass(frozen=True)
class LoadedClassifier:
    checkpoint: Checkpoint
    choice: BackboneChoice
    network: ClassifierNetwork | LandmarkClassifierNetwork

    @property
    def labels(self) -> tuple[str, ...]:
        return self.checkpoint.labels

    @property
    def description(self) -> str:
        """For the apps' log line "NAME: <description> on <source>"."""
        return f"{self.choice.label} backbone"


def load_classifier(
    checkpoint: Checkpoint,
    *,
    weights_dir: str | Path | None = None,
    device: str = "cpu",
    precision: Precision = "fp32",
    model: str | None = None,
    version: str | None = None,
    choice: BackboneChoice | None = None,
    mirrored: bool = False,
    recorded: LandmarksFile | None = None,
) -> LoadedClassifier:
    """The classifier of ``checkpoint``, ready to run, on ``choice`` (else on
    :func:`classifier_backbone`); ``mirrored``: the frames it will get are mirrored (a selfie
    camera), which the pose backbone undoes; ``recorded``: landmarks replayed instead of tracked
    (``--landmarks-in``, the pose backbone only)."""
    if choice is None:
        choice = classifier_backbone(
            checkpoint, weights_dir=weights_dir, model=model, version=version
        )
    if choice.landmarks:
        from rtnet.training import pose_backbone

        _check_rate(checkpoint, choice, pose_backbone.FEATURES_PER_STEP)
        landmarks = LandmarkClassifierNetwork(
            pose_backbone.LandmarkFeatures(mirrored=mirrored, recorded=recorded),
            StreamingHead(build_head(checkpoint, choice.features)),
            OUTPUT,
        )
        return LoadedClassifier(checkpoint, choice, landmarks)
    if recorded is not None:
        raise ConfigError(
            f"--landmarks-in: {checkpoint.folder.name} runs on the {choice.label} backbone, "
            "which sees video; a classifier trained with --backbone pose takes landmarks"
        )
    backbone = choice.build(device="cpu", precision=precision, fast=True)
    _check_rate(checkpoint, choice, features_per_step(backbone))
    load_layers(backbone, checkpoint.backbone_state, checkpoint.folder / WEIGHTS_FILE)
    backbone.to(device)
    network = ClassifierNetwork(backbone, build_head(checkpoint, choice.features), device)
    return LoadedClassifier(checkpoint, choice, network)


def _check_rate(checkpoint: Checkpoint, choice: BackboneChoice, rate: int) -> None:
    if checkpoint.config.head.features_per_step != rate:
        raise ConfigError(
            f"{checkpoint.folder / CONFIG_FILE}: the head takes "
            f"{checkpoint.config.head.features_per_step} features per model step, the "
            f"{choice.label} backbone gives {rate} -- train it again with `rtnet train`"
        )


def classifier_backbone(
    checkpoint: Checkpoint,
    *,
    weights_dir: str | Path | None = None,
    model: str | None = None,
    version: str | None = None,
) -> BackboneChoice:
    """The backbone ``checkpoint`` was trained on, found (not loaded); ``model``/``version`` (the
    apps' options) may only confirm it."""
    config = checkpoint.config
    if model is not None and model != config.backbone:
        raise ConfigError(
            f"{checkpoint.folder} was trained on the {config.backbone} backbone, not {model}: "
            "leave out --model"
        )
    if version is not None and version != config.version:
        raise ConfigError(
            f"{checkpoint.folder} was trained on {config.backbone} {config.version or ''}, "
            f"not version {version}: leave out --version"
        )
    return choose_backbone(config.backbone, config.version, weights_dir)
