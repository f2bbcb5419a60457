"""Which backbone a custom classifier stands on: a SenseKit one if its weights are there (in the
catalogue's order, ``rtnet.weights.CLASSIFIER_BACKBONE_ORDER``), else the embedded ``lite0``,
which needs no download; or, asked for by name, ``pose``: the built-in pose and hand trackers,
whose landmarks are the features (``rtnet.training.pose_backbone``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rtnet.errors import ConfigError, WeightsError

if TYPE_CHECKING:  # torch stays unimported until a backbone is built (fast `rtnet --help`)
    from rtnet.models.backbones import Precision, StreamingBackbone
    from rtnet.network import Channels

BackboneChoiceName = Literal["efficientnet", "mobilenet", "lite0", "pose"]
BACKBONE_NAMES: tuple[BackboneChoiceName, ...] = ("efficientnet", "mobilenet", "lite0", "pose")
LITE0: Literal["lite0"] = "lite0"
POSE: Literal["pose"] = "pose"
BUILT_IN_NAMES = (LITE0, POSE)  # shipped with rtnet: no versions, no weights folder
BUILT_IN = "built in"  # where their weights come from: a Python package, not a weights folder


@dataclass(frozen=True)
class BackboneChoice:
    """A backbone, the file its weights come from, and where that file was found."""

    name: BackboneChoiceName
    version: str | None  # 'pro' / 'lite' for SenseKit, None for lite0 and pose
    path: Path
    origin: str = BUILT_IN  # the searched folder that held it ("./resources", "--weights-dir")

    @property
    def key(self) -> str:
        """Folder name for its features: ``lite0``, ``efficientnet``, ``efficientnet-lite``."""
        return self.name if self.version in (None, "pro") else f"{self.name}-{self.version}"

    @property
    def label(self) -> str:
        return self.name if self.version is None else f"{self.name} {self.version}"

    @property
    def landmarks(self) -> bool:
        """Its features are tracked landmarks, computed from raw frames, not a CNN's maps."""
        return self.name == POSE

    @property
    def features(self) -> int:
        """Channels of each feature it gives the head."""
        if self.landmarks:
            from rtnet.training.landmark_features import FEATURES as LANDMARK_FEATURES

            return LANDMARK_FEATURES
        from rtnet.models.backbones import FEATURES

        return FEATURES

    @property
    def channels(self) -> Channels:
        """The channel order of the frames it takes: the backbone class's (importing torch)."""
        return self.backbone_class().channels

    def backbone_class(self) -> type[StreamingBackbone]:
        if self.landmarks:
            raise ValueError("the pose backbone is no StreamingBackbone (see pose_backbone)")
        if self.name == LITE0:
            from rtnet.models.lite0 import Lite0Backbone

            return Lite0Backbone
        from rtnet.models import BACKBONES, StreamingBackbone

        network = BACKBONES[self.name]
        assert isinstance(network, type) and issubclass(network, StreamingBackbone)
        return network

    def identity(self) -> str:
        """Changes when the weights change: cached features of another file are stale."""
        stat = self.path.stat()
        return f"{self.key}:{self.path.name}:{stat.st_size}:{stat.st_mtime_ns}"

    def build(
        self,
        *,
        device: str = "cpu",
        precision: Precision = "fp32",
        fast: bool = True,
    ) -> StreamingBackbone:
        if self.landmarks:
            raise ValueError("the pose backbone is no StreamingBackbone (see pose_backbone)")
        if self.name == LITE0:
            from rtnet.models.lite0 import build_lite0

            return build_lite0(device=device, precision=precision, fast=fast, weights=self.path)
        from rtnet.models import build_backbone

        assert self.name != POSE
        return build_backbone(self.name, self.path, device=device, precision=precision, fast=fast)


def choose_backbone(
    name: str | None = None, version: str | None = None, weights_dir: str | Path | None = None
) -> BackboneChoice:
    """The backbone asked for, or the default: the first SenseKit backbone found, else lite0.
    Cheap: it looks for files, it loads nothing."""
    from rtnet.models.lite0 import imagenet_weights_path
    from rtnet.weights import (
        CLASSIFIER_BACKBONE_ORDER,
        PUBLISHER_HINT,
        WEIGHT_FILES,
        ModelKey,
        find_file,
        weights_search_path,
    )

    if name is not None and name not in BACKBONE_NAMES:
        raise ConfigError(f"unknown backbone {name!r}: use one of {', '.join(BACKBONE_NAMES)}")
    if version is not None and version not in ("pro", "lite"):
        raise ConfigError(f"unknown version {version!r}: use pro or lite")
    if name in BUILT_IN_NAMES:
        if version is not None:
            raise ConfigError(f"the {name} backbone has no versions: leave out --version")
        if name == POSE:
            from rtnet.models.landmarks import weights_path

            return BackboneChoice(POSE, None, weights_path("pose_landmarks"))
        return BackboneChoice(LITE0, None, imagenet_weights_path())
    candidates: list[ModelKey] = [
        key
        for key in CLASSIFIER_BACKBONE_ORDER
        if name in (None, key[0]) and version in (None, key[1])
    ]
    search = weights_search_path(weights_dir)
    for key in candidates:
        for entry in search:
            found = find_file(entry.path, WEIGHT_FILES[key]["backbone"])
            if found is not None:
                return BackboneChoice(key[0], key[1], found, entry.origin)
    if name is None and version is None:
        return BackboneChoice(LITE0, None, imagenet_weights_path())
    wanted = " or ".join(
        f"{n} {v} ({' or '.join(WEIGHT_FILES[(n, v)]['backbone'])})" for n, v in candidates
    )
    searched = ", ".join(str(entry) for entry in search)
    raise WeightsError(
        f"no {wanted} backbone in {searched} -- {PUBLISHER_HINT} in one of those folders, "
        "or use --backbone lite0 (built in)"
    )


def features_per_step(backbone: StreamingBackbone) -> int:
    """How many feature maps ``backbone`` returns per model step: 4 (one per frame) for lite0,
    1 for the SenseKit backbones, whose two temporal strides halve the rate twice."""
    from rtnet.models.layers import InvertedResidual
    from rtnet.resample import STEP_FRAMES

    stride = 1
    for layer in backbone.cnn:
        if isinstance(layer, InvertedResidual):
            stride *= layer.time_stride
    return max(1, STEP_FRAMES // stride)
