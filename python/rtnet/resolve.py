"""Which network a run runs, decided in one place.

A run's request (the app, ``--model``, ``--version``, ``--classifier``, ``--weights-dir``) goes
to the first family in ``FAMILIES`` that serves it. The family locates what it needs (files found,
nothing loaded: cheap, so a missing file is reported before anything heavy starts) and says why in
one line for the UI; ``load`` then builds the network in the precision asked for, or for ``auto``
the one measured best here (``rtnet.precision``).

A family is one entry in ``FAMILIES``: an object with a ``name``, ``serves(request)`` and
``locate(request) -> Located``: custom classifiers, the SenseKit apps, and the built-in pose and
hand landmark models.

Fitness, calories, reps and gestures run on either SenseKit or the built-in pose (and hand)
models: ``--model pose`` picks the built-in ones; without ``--model`` SenseKit runs when its
files are found, else pose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rtnet.errors import ConfigError, WeightsError
from rtnet.precision import Precision, PrecisionChoice, PrecisionOption

if TYPE_CHECKING:
    import torch

    from rtnet.landmarks_in import LandmarksFile
    from rtnet.network import AnyNetwork, Network
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
    hands: bool = True  # landmark tracking: the hands too, not only the body
    mirrored: bool = False  # frames are mirrored (a camera's selfie view): handedness labels
    # ``--landmarks-in``: landmarks recorded by `rtnet pose`, replayed instead of tracked.
    recorded: LandmarksFile | None = None


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

    def build(self, device: str, precision: Precision) -> AnyNetwork: ...


class Family(Protocol):
    name: str

    def serves(self, request: Request) -> bool:
        """Whether the request is this family's (cheap: at most looks files up)."""
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
    mirrored: bool = False  # the frames are mirrored (a selfie camera): see load_classifier
    recorded: LandmarksFile | None = None  # --landmarks-in (a classifier on the pose backbone)

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
        # Landmark features are tracked in fp32, as in training (see pose_backbone).
        return ("fp32",) if self.choice.landmarks else ("fp32", "bf16")

    def features(self, device: str, precision: Precision) -> Callable[[torch.Tensor], torch.Tensor]:
        return self.choice.build(device=device, precision=precision)

    def build(self, device: str, precision: Precision) -> AnyNetwork:
        from rtnet.training.classifier import load_classifier

        loaded = load_classifier(
            self.checkpoint,
            choice=self.choice,
            device=device,
            precision=precision,
            mirrored=self.mirrored,
            recorded=self.recorded,
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
        return TrainedClassifier(request.classifier, choice, request.mirrored, request.recorded)


# ---------------------------------------------------------------------------------------------
# The built-in landmark models: MediaPipe's pose and hand networks, shipped with rtnet.


# The apps that also run on the built-in pose models (exercise engine: rtnet.exercises; gesture
# engine: rtnet.gestures, which takes the hands too).
POSE_APPS = ("fitness", "calories", "reps", "gestures")
HAND_APPS = ("gestures",)
POSE_MODEL = "pose"  # the ``--model`` that picks them


@dataclass(frozen=True)
class LandmarkTracking:
    hands: bool
    mirrored: bool
    # For an exercise app (POSE_APPS), why the pose models run: the network then tracks every
    # frame of a step and hands the step's landmarks on (rtnet.tracking.PoseSteps).
    exercises_why: str | None = None
    # ``--landmarks-in``: the tracks are replayed from it (rtnet.landmarks_in), nothing tracked.
    recorded: LandmarksFile | None = None

    @property
    def reason(self) -> str:
        from rtnet.models.landmarks import MEDIAPIPE_VERSION

        if self.exercises_why is not None:
            return f"model: pose (built-in) - {self.exercises_why}"
        what = "pose and hand landmarks" if self.hands else "pose landmarks"
        if self.recorded is not None:
            return f"model: {what} recorded in {self.recorded.description} (--landmarks-in)"
        return f"model: {what} (built in, MediaPipe {MEDIAPIPE_VERSION})"

    @property
    def label(self) -> str:
        return "pose + hands" if self.hands else "pose"

    @property
    def model_key(self) -> str:
        return self.label

    @property
    def precisions(self) -> tuple[Precision, ...]:
        # bf16 moves pose landmarks by tens of pixels (rtnet.models.landmarks.network).
        return ("fp32",)

    def features(self, device: str, precision: Precision) -> Callable[[torch.Tensor], torch.Tensor]:
        from rtnet.models import build_landmark_model

        return build_landmark_model("pose_landmarks", precision=precision, device=device)

    def build(self, device: str, precision: Precision) -> AnyNetwork:
        from rtnet.landmarks_in import RecordedTracking
        from rtnet.tracking import PoseSteps, Tracking
        from rtnet.tracking.stream import FrameTracker

        tracking: FrameTracker
        if self.recorded is not None:  # replayed: no network runs, on any device
            tracking = RecordedTracking(self.recorded, hands=self.hands)
        elif device != "cpu":
            raise ConfigError("the landmark trackers run on the CPU: leave out --device")
        else:
            tracking = Tracking(hands=self.hands, mirrored=self.mirrored, precision=precision)
        if self.exercises_why is None:
            return tracking
        return PoseSteps(tracking, hands=self.hands, mirrored=self.mirrored)


class LandmarkFamily:
    name = "built-in landmarks"

    def serves(self, request: Request) -> bool:
        if request.classifier is not None:
            return False
        return (
            request.app == "pose"
            or request.model == POSE_MODEL
            or request.recorded is not None
            or _no_sensekit(request)
        )

    def locate(self, request: Request) -> LandmarkTracking:
        from rtnet.models.landmarks import LANDMARK_MODELS, weights_path

        why = None
        hands = request.hands
        recorded = request.recorded
        if recorded is not None and request.model not in (None, POSE_MODEL):
            raise ConfigError(
                f"--landmarks-in replays pose landmarks: --model {request.model} (SenseKit) "
                "runs on video"
            )
        if request.app != "pose":
            if request.app not in POSE_APPS:
                raise ConfigError(
                    f"{request.app} on --model pose is not built yet: it runs on the SenseKit "
                    "weights (--model efficientnet or mobilenet, see rtnet weights)"
                )
            if request.version is not None:
                raise ConfigError(f"--version {request.version} is for the SenseKit models only")
            hands = request.app in HAND_APPS  # the exercise engine takes the body only
            why = (
                f"landmarks recorded in {recorded.description} (--landmarks-in)"
                if recorded is not None
                else "--model pose"
                if request.model == POSE_MODEL
                else "SenseKit weights not found, see rtnet weights"
            )
        if recorded is not None:  # nothing is tracked: no weights needed
            return LandmarkTracking(hands, request.mirrored, why, recorded)
        wanted = [n for n in LANDMARK_MODELS if hands or not n.startswith(("palm", "hand"))]
        for name in wanted:
            if not weights_path(name).is_file():
                raise WeightsError(
                    f"the built-in {name} weights are missing from the installed package "
                    f"({weights_path(name)}): reinstall rtnet"
                )
        return LandmarkTracking(hands, request.mirrored, why)


def _no_sensekit(request: Request) -> bool:
    """An app that runs on pose too, with no model or version asked for, whose SenseKit files
    are not found (looked up only: cheap)."""
    from rtnet.weights import select_model

    if request.app not in POSE_APPS or request.model is not None or request.version is not None:
        return False
    try:
        select_model(request.app, weights_dir=request.weights_dir)  # type: ignore[arg-type]
    except WeightsError:
        return True
    return False


def runs_on_pose(located: Located) -> bool:
    """Whether a SenseKit app runs on the built-in pose models (its spec's ``on_pose`` variant)."""
    return isinstance(located, LandmarkTracking) and located.exercises_why is not None


# The families, in the order they are asked; a new family is one more entry here.
FAMILIES: tuple[Family, ...] = (ClassifierFamily(), LandmarkFamily(), SenseKitFamily())


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
    network: AnyNetwork
    located: Located
    precision: PrecisionChoice

    @property
    def reason(self) -> str:
        """``model: efficientnet pro (SenseKit, ./resources); precision: fp32 (auto: ...)``"""
        return f"{self.located.reason}; {self.precision.reason}"


def check_precision(located: Located, precision: PrecisionOption) -> None:
    """A precision ``located`` cannot run in is a one-line error, before anything is built."""
    if precision not in ("auto", *located.precisions):
        offered = " or ".join(located.precisions)
        raise ConfigError(f"--precision {precision}: {located.label} runs in {offered} only")


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

    check_precision(located, precision)

    def work() -> Loaded:
        if located.precisions == ("fp32",):
            choice = PrecisionChoice("fp32", f"{located.label} runs in fp32 only")
            return Loaded(located.build(device, "fp32"), located, choice)
        choice = choose_precision(
            precision,
            model=f"{located.model_key} on {device}",
            build=lambda p: located.features(device, p),
            bf16_native="bf16" in located.precisions and bf16_supported(device),
            cache=cache,
        )
        return Loaded(located.build(device, choice.precision), located, choice)

    return build_off_thread(work)
