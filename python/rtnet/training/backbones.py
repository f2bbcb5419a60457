"""Which backbone a custom classifier stands on: a SenseKit one if its weights are there, else
the embedded ``lite0``, which needs no download."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rtnet.errors import ConfigError, WeightsError

if TYPE_CHECKING:  # torch stays unimported until a backbone is built (fast `rtnet --help`)
    from rtnet.models.backbones import Precision, StreamingBackbone

BackboneChoiceName = Literal["efficientnet", "mobilenet", "lite0"]
BACKBONE_NAMES: tuple[BackboneChoiceName, ...] = ("efficientnet", "mobilenet", "lite0")
LITE0 = "lite0"
# Default order when the user names no backbone: the SenseKit ones first (trained on people in
# motion), the embedded ImageNet lite0 when none is on disk.
SENSEKIT_ORDER: tuple[tuple[str, str], ...] = (
    ("efficientnet", "pro"),
    ("mobilenet", "pro"),
    ("efficientnet", "lite"),
    ("mobilenet", "lite"),
)


@dataclass(frozen=True)
class BackboneChoice:
    """A backbone and the file its weights come from."""

    name: BackboneChoiceName
    version: str | None  # 'pro' / 'lite' for SenseKit, None for lite0
    path: Path

    @property
    def key(self) -> str:
        """Folder name for its features: ``lite0``, ``efficientnet``, ``efficientnet-lite``."""
        return self.name if self.version in (None, "pro") else f"{self.name}-{self.version}"

    @property
    def label(self) -> str:
        return self.name if self.version is None else f"{self.name} {self.version}"

    @property
    def channel_order(self) -> Literal["rgb", "bgr"]:
        """What the network was trained on: SenseKit on OpenCV's BGR, lite0 on RGB."""
        from rtnet.network import NETWORK_CHANNEL_ORDER

        return "rgb" if self.name == LITE0 else NETWORK_CHANNEL_ORDER

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
        if self.name == LITE0:
            from rtnet.models.lite0 import build_lite0

            return build_lite0(device=device, precision=precision, fast=fast, weights=self.path)
        from rtnet.models import build_backbone

        return build_backbone(self.name, self.path, device=device, precision=precision, fast=fast)


def _sensekit_backbone(name: str, version: str, weights_dir: str | Path | None) -> Path | None:
    from rtnet.weights import WEIGHT_FILES, find_file, weights_search_path

    names = WEIGHT_FILES[(name, version)]["backbone"]  # type: ignore[index]
    for entry in weights_search_path(weights_dir):
        found = find_file(entry.path, names)
        if found is not None:
            return found
    return None


def choose_backbone(
    name: str | None = None, version: str | None = None, weights_dir: str | Path | None = None
) -> BackboneChoice:
    """The backbone asked for, or the default: the first SenseKit backbone found, else lite0."""
    from rtnet.models.lite0 import imagenet_weights_path

    if name is not None and name not in BACKBONE_NAMES:
        raise ConfigError(f"unknown backbone {name!r}: use one of {', '.join(BACKBONE_NAMES)}")
    if version is not None and version not in ("pro", "lite"):
        raise ConfigError(f"unknown version {version!r}: use pro or lite")
    if name == LITE0:
        if version is not None:
            raise ConfigError("the lite0 backbone has no versions: leave out --version")
        return BackboneChoice(LITE0, None, imagenet_weights_path())
    candidates = [(n, v) for n, v in SENSEKIT_ORDER if name in (None, n) and version in (None, v)]
    for n, v in candidates:
        path = _sensekit_backbone(n, v, weights_dir)
        if path is not None:
            return BackboneChoice(n, v, path)  # type: ignore[arg-type]
    if name is None and version is None:
        return BackboneChoice(LITE0, None, imagenet_weights_path())
    from rtnet.weights import PUBLISHER_HINT, WEIGHT_FILES, weights_search_path

    wanted = " or ".join(
        f"{n} {v} ({' or '.join(WEIGHT_FILES[(n, v)]['backbone'])})"  # type: ignore[index]
        for n, v in candidates
    )
    searched = ", ".join(str(entry) for entry in weights_search_path(weights_dir))
    raise WeightsError(
        f"no {wanted} backbone in {searched} -- {PUBLISHER_HINT} in one of those folders, "
        "or use --backbone lite0 (built in)"
    )
