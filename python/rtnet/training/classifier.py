"""A trained custom classifier on disk (``DATASET/checkpoints/NAME/``) and running it live.

The folder holds ``classifier.pt`` (the head, plus any fine-tuned backbone layers, as one flat
state dict of tensors), ``labels.json`` (class names in output order) and ``config.json`` (backbone,
version, fps, step, head shape, metrics). The backbone itself is not copied: it is rebuilt from the
SenseKit files or the embedded lite0 weights, and fine-tuned layers are loaded over it.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rtnet.errors import ConfigError, WeightsError
from rtnet.models.backbones import STEP, Precision, StreamingBackbone
from rtnet.network import Network
from rtnet.resample import MODEL_FPS
from rtnet.training.backbones import BackboneChoice, choose_backbone
from rtnet.training.head import HeadConfig, StreamingHead, TemporalHead

CHECKPOINT_FORMAT = 1
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
    step: int = STEP
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
    def from_json(cls, raw: Mapping[str, Any], source: Path) -> ClassifierConfig:
        try:
            if raw["format"] > CHECKPOINT_FORMAT:
                raise ConfigError(
                    f"{source}: written by a newer rtnet (format {raw['format']}): upgrade rtnet"
                )
            known = {
                "format",
                "backbone",
                "version",
                "fps",
                "step",
                "head",
                "finetune_layers",
                "metrics",
            }
            config = cls(
                backbone=str(raw["backbone"]),
                version=raw["version"],
                head=HeadConfig(**raw["head"]),
                finetune_layers=int(raw["finetune_layers"]),
                fps=float(raw["fps"]),
                step=int(raw["step"]),
                metrics=dict(raw.get("metrics", {})),
                extra={k: v for k, v in raw.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{source}: not a valid classifier config ({err!r})") from None
        if config.fps != MODEL_FPS or config.step != STEP:
            raise ConfigError(
                f"{source}: trained at {config.fps:g} fps with {config.step}-frame steps; "
                f"rtnet runs at {MODEL_FPS:g} fps with {STEP}-frame steps"
            )
        return config


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
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None


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
    path = folder / WEIGHTS_FILE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise WeightsError(
            f"{path}: cannot read the classifier weights, the file is truncated or corrupt "
            f"({type(err).__name__}) -- train again"
        ) from None
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()
    ):
        raise WeightsError(f"{path}: not a state dict of tensors")
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


def build_head(checkpoint: Checkpoint) -> TemporalHead:
    head = TemporalHead(len(checkpoint.labels), checkpoint.config.head)
    try:
        head.load_state_dict(checkpoint.head_state, strict=True)
    except RuntimeError:
        raise WeightsError(
            f"{checkpoint.folder / WEIGHTS_FILE}: the head does not match labels.json and "
            "config.json -- train again"
        ) from None
    return head.eval()


class ClassifierNetwork(Network):
    """Backbone + streaming temporal head, as the engine runs any app's network."""

    def __init__(
        self, backbone: StreamingBackbone, head: TemporalHead, choice: BackboneChoice, device: str
    ) -> None:
        self.head = StreamingHead(head).to(device)
        super().__init__(backbone, {OUTPUT: self.head}, device=device)
        self.channels = choice.channel_order  # lite0 was trained on RGB, SenseKit on BGR

    def reset(self) -> None:
        super().reset()
        self.head.reset()


@dataclass(frozen=True)
class LoadedClassifier:
    checkpoint: Checkpoint
    choice: BackboneChoice
    network: ClassifierNetwork

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
) -> LoadedClassifier:
    """The classifier of ``checkpoint``, ready to run; ``model``/``version`` (the apps' options)
    may only confirm the backbone it was trained on."""
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
    choice = choose_backbone(config.backbone, config.version, weights_dir)
    backbone = choice.build(device="cpu", precision=precision, fast=True)
    load_layers(backbone, checkpoint.backbone_state, checkpoint.folder / WEIGHTS_FILE)
    backbone.to(device)
    network = ClassifierNetwork(backbone, build_head(checkpoint), choice, device)
    return LoadedClassifier(checkpoint, choice, network)
