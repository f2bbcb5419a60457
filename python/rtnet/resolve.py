"""Which network a run runs, decided in one place.

A run's request (the app, ``--model``, ``--version``, ``--classifier``, ``--weights-dir``) goes
to the first family in ``FAMILIES`` that serves it. The family locates what it needs (files found,
nothing loaded: cheap, so a missing file is reported before anything heavy starts) and says why in
one line for the UI; ``load`` then builds the network in the precision asked for, or for ``auto``
the one measured best here (``rtnet.precision``).

A family is one entry in ``FAMILIES``: an object with a ``name``, ``serves(request)`` and
``locate(request) -> Located``. SenseKit apps and custom classifiers are the two today.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rtnet.errors import ConfigError
from rtnet.precision import Precision, PrecisionChoice, PrecisionOption

if TYPE_CHECKING:
    import torch

    from rtnet.network import Network
    from rtnet.precision import PrecisionCache
    from rtnet.training.backbones import BackboneChoice
    from rtnet.training.classifier import Checkpoint
    from rtnet.weights import ModelFiles


@dataclass(frozen=True)
class Request:
    """What a run asks for. ``app`` names a built-in app; ``classifier`` is a checkpoint of
    ``rtnet train`` (``rtnet run --classifier``)."""

    app: str | None = None
    model: str | None = None
    version: str | None = None
    classifier: Checkpoint | None = None
    weights_dir: str | Path | None = None


class Located(Protocol):
    """A network found for a request, not built yet."""

    @property
    def reason(self) -> str:
        """One line for the UI: ``model: efficientnet pro (SenseKit, ./resources)``."""
        ...

    @property
    def label(self) -> str:
        """Short name for logs and the history: ``efficientnet pro``."""
        ...

    @property
    def model_key(self) -> str:
        """What ``--precision auto`` measures (its cache key): the same for the same backbone."""
        ...

    @property
    def precisions(self) -> tuple[Precision, ...]:
        """The precisions it can run in (``auto`` measures only if there is a choice)."""
        ...

    def features(self, device: str, precision: Precision) -> Callable[[torch.Tensor], torch.Tensor]:
        """Clip -> features, in ``precision``: what ``--precision auto`` times and compares."""
        ...

    def build(self, device: str, precision: Precision) -> Network: ...


class Family(Protocol):
    name: str

    def serves(self, request: Request) -> bool:
        """Whether the request is this family's (from the request alone: no files read)."""
        ...

    def locate(self, request: Request) -> Located:
        """The network for the request, located: ConfigError / WeightsError if it cannot run."""
        ...


# ---------------------------------------------------------------------------------------------
# SenseKit apps: a SenseKit backbone and the app's heads, from the weights catalogue.


@dataclass(frozen=True)
class SenseKitModel:
    files: ModelFiles
    origin: str  # the searched folder that held the files ("./resources", "--weights-dir")

    @property
    def reason(self) -> str:
        return f"model: {self.files.label} (SenseKit, {self.origin})"

    @property
    def label(self) -> str:
        return self.files.label

    @property
    def model_key(self) -> str:
        return f"{self.files.model} {self.files.version}"

    @property
    def precisions(self) -> tuple[Precision, ...]:
        return ("fp32", "bf16")

    def features(self, device: str, precision: Precision) -> Callable[[torch.Tensor], torch.Tensor]:
        from rtnet.models import build_backbone

        return build_backbone(
            self.files.model, self.files.backbone, device=device, precision=precision
        )

    def build(self, device: str, precision: Precision) -> Network:
        from rtnet.models import build_backbone, build_head
        from rtnet.network import BackboneNetwork

        backbone = build_backbone(
            self.files.model, self.files.backbone, device=device, precision=precision
        )
        heads: dict[str, torch.nn.Module] = {
            kind: build_head(kind, path, device=device)  # type: ignore[arg-type]
            for kind, path in self.files.heads.items()
        }
        return BackboneNetwork(backbone, heads, device=device)


class SenseKitFamily:
    name = "SenseKit"

    def serves(self, request: Request) -> bool:
        from rtnet.weights import TASKS

        return request.classifier is None and request.app in TASKS

    def locate(self, request: Request) -> SenseKitModel:
        from rtnet.weights import select_model

        files = select_model(
            request.app,  # type: ignore[arg-type]
            request.model,  # type: ignore[arg-type]
            request.version,  # type: ignore[arg-type]
            request.weights_dir,
        )
        return SenseKitModel(files, _origin(files.backbone, request.weights_dir))


def _origin(path: Path, weights_dir: str | Path | None) -> str:
    from rtnet.weights import weights_search_path

    for entry in weights_search_path(weights_dir):
        if path.is_relative_to(entry.path):
            return entry.origin
    return str(path.parent)


# ---------------------------------------------------------------------------------------------
# Custom classifiers: the checkpoint's head on the backbone it was trained on.


@dataclass(frozen=True)
class TrainedClassifier:
    checkpoint: Checkpoint
    choice: BackboneChoice

    @property
    def reason(self) -> str:
        from rtnet.training.backbones import BUILT_IN

        where = (
            self.choice.origin
            if self.choice.origin == BUILT_IN
            else f"SenseKit, {self.choice.origin}"
        )
        return f"classifier {self.checkpoint.folder.name} on {self.choice.label} ({where})"

    @property
    def label(self) -> str:
        return f"{self.choice.label} backbone"

    @property
    def model_key(self) -> str:
        return self.choice.label  # fine-tuned layers change values, not the speed

    @property
    def precisions(self) -> tuple[Precision, ...]:
        return ("fp32", "bf16")

    def features(self, device: str, precision: Precision) -> Callable[[torch.Tensor], torch.Tensor]:
        return self.choice.build(device=device, precision=precision)

    def build(self, device: str, precision: Precision) -> Network:
        from rtnet.training.classifier import load_classifier

        loaded = load_classifier(
            self.checkpoint, choice=self.choice, device=device, precision=precision
        )
        return loaded.network


class ClassifierFamily:
    name = "custom classifier"

    def serves(self, request: Request) -> bool:
        return request.classifier is not None

    def locate(self, request: Request) -> TrainedClassifier:
        from rtnet.training.classifier import classifier_backbone

        assert request.classifier is not None
        choice = classifier_backbone(
            request.classifier,
            weights_dir=request.weights_dir,
            model=request.model,
            version=request.version,
        )
        return TrainedClassifier(request.classifier, choice)


# The families, in the order they are asked; a new family (the built-in landmark models) is one
# more entry here.
FAMILIES: tuple[Family, ...] = (ClassifierFamily(), SenseKitFamily())


def resolve(request: Request) -> Located:
    """The network ``request`` runs, located but not built (cheap: it reads no weights)."""
    for family in FAMILIES:
        if family.serves(request):
            return family.locate(request)
    raise ConfigError(f"no network runs {request.app!r}")


# ---------------------------------------------------------------------------------------------
# Building


@dataclass(frozen=True)
class Loaded:
    network: Network
    located: Located
    precision: PrecisionChoice

    @property
    def reason(self) -> str:
        """``model: efficientnet pro (SenseKit, ./resources); precision: fp32 (auto: ...)``"""
        return f"{self.located.reason}; {self.precision.reason}"


def load(
    located: Located,
    *,
    device: str = "cpu",
    precision: PrecisionOption = "auto",
    cache: PrecisionCache | None = None,
) -> Loaded:
    """Builds the network (and for ``auto`` first measures, or reads, the precision to build it
    in), all in one short-lived thread: see ``rtnet.models.loading.build_off_thread``."""
    from rtnet.models import bf16_supported
    from rtnet.models.loading import build_off_thread
    from rtnet.precision import choose_precision

    if precision not in ("auto", *located.precisions):
        raise ConfigError(f"--precision {precision}: {located.label} runs in fp32 only")

    def work() -> Loaded:
        choice = choose_precision(
            precision,
            model=f"{located.model_key} on {device}",
            build=lambda p: located.features(device, p),
            bf16_native="bf16" in located.precisions and bf16_supported(device),
            cache=cache,
        )
        return Loaded(located.build(device, choice.precision), located, choice)

    return build_off_thread(work)
