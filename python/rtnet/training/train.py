"""``rtnet train DATASET``: features per video (cached), a temporal head trained on them (and
optionally the last backbone layers), early stopping on validation accuracy, a checkpoint folder
and a report with per-class accuracy and the confusion matrix."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rtnet.errors import ConfigError
from rtnet.models.layers import TemporalConv
from rtnet.resample import MODEL_FPS, STEP_FRAMES
from rtnet.training import DEFAULT_CONTEXT, DEFAULT_EPOCHS, pose_backbone
from rtnet.training.advice import overfitting_advice, stop_reason
from rtnet.training.augment import augmentation
from rtnet.training.backbones import BackboneChoice, choose_backbone, features_per_step
from rtnet.training.classifier import (
    MAX_HEAD_STEPS,
    Checkpoint,
    ClassifierConfig,
    write_checkpoint,
)
from rtnet.training.dataset import SPLITS, Dataset, Leak, Split, discover, find_leaks
from rtnet.training.features import (
    Extracted,
    Extractor,
    FeatureCache,
    FeatureExtractor,
    Fingerprint,
    Skipped,
    extract_all,
)
from rtnet.training.head import HeadConfig, TemporalHead, windows_of

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from rtnet.models.backbones import StreamingBackbone


@dataclass(frozen=True)
class TrainOptions:
    dataset: Path
    backbone: str | None = None  # None: a SenseKit backbone if present, else lite0
    version: str | None = None
    weights_dir: Path | None = None
    finetune_layers: int = 0
    epochs: int = DEFAULT_EPOCHS
    patience: int = 15  # epochs without a better validation result before stopping
    name: str | None = None  # checkpoint folder name; default: the backbone's
    force: bool = False  # overwrite an existing checkpoint of that name
    context: float = DEFAULT_CONTEXT  # seconds the head sees at once
    head: HeadConfig = field(default_factory=HeadConfig)  # steps/features_per_step: set by run()
    augment: bool = True  # speed, shift, gain (see rtnet.training.augment)
    mirror: bool = False  # also mirror-image clips: only where no class is left/right-handed
    videos_per_batch: int = 2  # small batches: more steps per epoch, learns in fewer epochs
    learning_rate: float = 3e-3
    finetune_learning_rate: float = 1e-4
    weight_decay: float = 5e-2
    seed: int = 0


LOSS_MARGIN = 0.05  # a relative loss decrease that counts as better at equal accuracy


@dataclass(frozen=True)
class Evaluation:
    """Window-level results on one split: one window = the context ending at a model step."""

    accuracy: float
    loss: float
    confusion: np.ndarray  # [true, predicted] window counts
    video_accuracy: float  # each video classified by its mean window probabilities

    def per_class(self) -> np.ndarray:
        totals = self.confusion.sum(axis=1)
        return np.divide(
            np.diag(self.confusion), totals, out=np.zeros(len(totals)), where=totals > 0
        )

    def better_than(self, other: Evaluation | None) -> bool:
        """Higher accuracy, or the same with a clearly lower loss (a loss that keeps creeping
        down on windows already right would postpone early stopping for nothing)."""
        if other is None or self.accuracy != other.accuracy:
            return other is None or self.accuracy > other.accuracy
        return self.loss < other.loss * (1 - LOSS_MARGIN)


@dataclass(frozen=True)
class Epoch:
    """One epoch of training, as the progress line shows it."""

    epoch: int
    train_loss: float  # mean over the epoch's (augmented) training windows
    train_accuracy: float  # of those windows, as the model was while it learnt them
    valid_accuracy: float
    valid_loss: float


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path
    labels: tuple[str, ...]
    choice: BackboneChoice
    valid: Evaluation
    train_accuracy: float
    window_s: float  # stream time one window covers
    best_epoch: int
    epochs_run: int
    extracted: int
    reused: int
    skipped: tuple[Skipped, ...]
    leaks: tuple[Leak, ...] = ()  # validation videos that repeat training videos
    history: tuple[Epoch, ...] = ()  # every epoch run, in order


@dataclass
class _Split:
    """The videos of one split as tensors: what the trainable part of the network gets."""

    inputs: list[Tensor]  # float16 (features, C, H, W); converted per use
    targets: list[int]

    @classmethod
    def of(cls, items: Sequence[Extracted], labels: Sequence[str]) -> _Split:
        inputs = [torch.from_numpy(item.features).to(torch.float16) for item in items]
        return cls(inputs, [labels.index(item.video.label) for item in items])


class _Model(nn.Module):
    """The trainable part: the last backbone layers (maybe none) and the temporal head."""

    def __init__(self, layers: nn.Module | None, head: TemporalHead) -> None:
        super().__init__()
        self.layers = layers
        self.head = head

    def features(self, video: Tensor) -> Tensor:
        """The backbone's features of one video, from the cached input of its trained part."""
        x = video.float()
        if self.layers is None:
            return x
        for module in self.layers.modules():
            if isinstance(module, TemporalConv):
                module.reset()  # each video is a stream of its own
        out: Tensor = self.layers(x)
        return out

    def windows(self, features: Tensor, every: int) -> Tensor:
        """Logits of the windows of one video's features, ending at every ``every``-th feature
        from the shortest context trained on (``min_features``)."""
        config = self.head.config
        codes = self.head.encode(features)
        first = min_features(config) - 1
        # Ends aligned with the last feature of a model step, as ``rtnet run`` computes them.
        first += (config.features_per_step - 1 - first) % every if every > 1 else 0
        ends = torch.arange(first, codes.shape[0], every)
        return self.head.classify_windows(windows_of(codes, config.window, ends))


def min_features(config: HeadConfig) -> int:
    """The shortest context a window is trained and scored on: half the context (a stream's
    first seconds are shorter than a full context; the head sees those too)."""
    return max(1, config.steps // 2) * config.features_per_step


def _evaluate(model: _Model, split: _Split, num_classes: int) -> Evaluation:
    model.eval()
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    losses, videos_right = [], 0
    every = model.head.config.features_per_step
    with torch.no_grad():
        for video, target in zip(split.inputs, split.targets, strict=True):
            logits = model.windows(model.features(video), every)
            targets = torch.full((logits.shape[0],), target)
            losses.append(F.cross_entropy(logits, targets, reduction="sum").item())
            np.add.at(confusion, (np.full(len(logits), target), logits.argmax(dim=1).numpy()), 1)
            videos_right += int(torch.softmax(logits, 1).mean(0).argmax().item() == target)
    windows = int(confusion.sum())
    return Evaluation(
        accuracy=float(np.trace(confusion) / windows),
        loss=float(sum(losses) / windows),
        confusion=confusion,
        video_accuracy=videos_right / len(split.inputs),
    )


def _sha256(path: Path) -> str:
    digest = Fingerprint.of(path).with_hash(path).sha256
    assert digest is not None
    return digest


def _class_weights(split: _Split, num_classes: int) -> Tensor:
    """Balances classes with more or longer videos (counted in features: windows end at each)."""
    counts = np.zeros(num_classes)
    for video, target in zip(split.inputs, split.targets, strict=True):
        counts[target] += video.shape[0]
    return torch.tensor(counts.sum() / (num_classes * np.maximum(counts, 1)), dtype=torch.float32)


def _layer_state(backbone: StreamingBackbone, first: int) -> dict[str, Tensor]:
    prefixes = tuple(f"cnn.{i}." for i in range(first, len(backbone.cnn)))
    return {
        k: v.detach().clone() for k, v in backbone.state_dict().items() if k.startswith(prefixes)
    }


class Trainer:
    """One training run; the console receives progress bars and the final report."""

    def __init__(self, options: TrainOptions, console: Console) -> None:
        self.options = options
        self.console = console

    def run(self) -> TrainResult:
        options = self.options
        if options.epochs < 1:
            raise ConfigError(f"invalid --epochs {options.epochs}: expected 1 or more")
        if options.finetune_layers < 0:
            raise ConfigError(
                f"invalid --finetune-layers {options.finetune_layers}: expected 0 or more"
            )
        dataset = discover(options.dataset)
        choice = choose_backbone(options.backbone, options.version, options.weights_dir)
        name = options.name or choice.key
        if not name or Path(name).name != name or name.startswith("."):
            raise ConfigError(f"invalid --name {name!r}: expected a plain folder name")
        checkpoint_folder = dataset.root / "checkpoints" / name
        if checkpoint_folder.exists() and not options.force:
            raise ConfigError(
                f"checkpoint {checkpoint_folder} already exists: pass --force to overwrite it, "
                "or choose another --name"
            )
        steps = round(options.context * MODEL_FPS / STEP_FRAMES)
        if not (math.isfinite(options.context) and 1 <= steps <= MAX_HEAD_STEPS):
            raise ConfigError(
                f"invalid --context {options.context:g}: expected "
                f"{STEP_FRAMES / MODEL_FPS:g} to {MAX_HEAD_STEPS * STEP_FRAMES / MODEL_FPS:g} "
                "seconds"
            )
        torch.manual_seed(options.seed)
        backbone: StreamingBackbone | None = None
        extractor: FeatureExtractor
        if choice.landmarks:
            if options.finetune_layers:
                raise ConfigError(
                    "--finetune-layers: the pose backbone has no trainable layers (its features "
                    "are landmarks); leave it out"
                )
            head = pose_backbone.head_config(options.head, steps)
            extractor = pose_backbone.LandmarkExtractor(choice)
        else:
            backbone = choice.build(fast=True)
            depth = len(backbone.cnn)
            head = dataclasses.replace(
                options.head, steps=steps, features_per_step=features_per_step(backbone)
            )
            if options.finetune_layers > depth:
                raise ConfigError(
                    f"invalid --finetune-layers {options.finetune_layers}: the {choice.label} "
                    f"backbone has {depth} layers"
                )
            extractor = Extractor(
                choice,
                backbone,
                depth - options.finetune_layers,
                grid=head.grid if options.finetune_layers == 0 else None,
            )
        self.console.print(
            f"Dataset {dataset.root}: {len(dataset.labels)} classes, "
            f"{len(dataset.videos['train'])} training and {len(dataset.videos['valid'])} "
            f"validation videos; backbone {choice.label}"
        )
        leaks = find_leaks(dataset, _sha256)
        for leak in leaks:
            self.console.print(f"[yellow]warning: {leak.message()}[/]", highlight=False)
        items, skipped, extracted, reused = self._features(
            dataset, extractor, min_features(head) // head.features_per_step
        )
        splits: dict[str, _Split] = {s: _Split.of(items[s], dataset.labels) for s in SPLITS}
        self._check_usable(dataset, items, skipped)

        layers = None
        if options.finetune_layers:
            assert backbone is not None and isinstance(extractor, Extractor)
            backbone.configure(fast=False, precision="fp32")  # autograd needs the plain path
            layers = backbone.cnn[extractor.layers :]
            layers.requires_grad_(True)
        model = _Model(layers, TemporalHead(len(dataset.labels), head, choice.features))
        best, best_epoch, history = self._fit(model, splits, len(dataset.labels), choice)
        epochs_run = len(history)
        model.load_state_dict(best)
        valid = _evaluate(model, splits["valid"], len(dataset.labels))
        train_eval = _evaluate(model, splits["train"], len(dataset.labels))

        metrics: dict[str, Any] = {
            "valid_accuracy": valid.accuracy,
            "valid_video_accuracy": valid.video_accuracy,
            "valid_loss": valid.loss,
            "train_accuracy": train_eval.accuracy,
            "per_class_accuracy": dict(
                zip(dataset.labels, map(float, valid.per_class()), strict=True)
            ),
            "confusion": valid.confusion.tolist(),
            "best_epoch": best_epoch,
            "epochs_run": epochs_run,
        }
        training = {
            "context_s": head.steps * STEP_FRAMES / MODEL_FPS,
            "augment": options.augment,
            "mirror": options.mirror,
            "seed": options.seed,
        }
        config = ClassifierConfig(
            backbone=choice.name,
            version=choice.version,
            head=head,
            finetune_layers=options.finetune_layers,
            metrics=metrics,
            extra={
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"
                ),
                "training": training,
                "dataset": {
                    "path": str(dataset.root),
                    "train_videos": len(items["train"]),
                    "valid_videos": len(items["valid"]),
                    "skipped": [{"video": s.video.name, "reason": s.reason} for s in skipped],
                    "leaks": [leak.message() for leak in leaks],
                },
            },
        )
        folder = write_checkpoint(
            Checkpoint(
                folder=checkpoint_folder,
                labels=dataset.labels,
                config=config,
                head_state=model.head.state_dict(),
                backbone_state=_layer_state(backbone, extractor.layers)
                if backbone is not None and isinstance(extractor, Extractor)
                else {},
            )
        )
        result = TrainResult(
            checkpoint=folder,
            labels=dataset.labels,
            choice=choice,
            valid=valid,
            train_accuracy=train_eval.accuracy,
            window_s=head.steps * STEP_FRAMES / MODEL_FPS,
            best_epoch=best_epoch,
            epochs_run=epochs_run,
            history=history,
            extracted=extracted,
            reused=reused,
            skipped=tuple(skipped),
            leaks=tuple(leaks),
        )
        print_report(result, self.console)
        return result

    def _features(
        self, dataset: Dataset, extractor: FeatureExtractor, min_steps: int
    ) -> tuple[dict[Split, list[Extracted]], list[Skipped], int, int]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        cache = FeatureCache(dataset.root, extractor)
        items: dict[Split, list[Extracted]] = {}
        skipped: list[Skipped] = []
        videos = [v for split in SPLITS for v in dataset.videos[split]]
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        ) as progress:
            task = progress.add_task("Extracting features", total=len(videos))

            def advance(video: object, cached: bool) -> None:
                progress.advance(task)

            for split in SPLITS:
                done, missed = extract_all(
                    dataset.videos[split],
                    cache,
                    min_steps,
                    on_progress=advance,
                )
                items[split] = done
                skipped += missed
        for item in skipped:
            self.console.print(f"[yellow]warning:[/] skipped {item.video.name}: {item.reason}")
        reused = sum(item.cached for split in items.values() for item in split)
        extracted = sum(len(split) for split in items.values()) - reused
        return items, skipped, extracted, reused

    @staticmethod
    def _check_usable(
        dataset: Dataset, items: dict[Split, list[Extracted]], skipped: list[Skipped]
    ) -> None:
        for split in SPLITS:
            for label in dataset.labels:
                if not any(item.video.label == label for item in items[split]):
                    reasons = [s.reason for s in skipped if s.video.label == label]
                    raise ConfigError(
                        f"class {label!r} has no usable videos in videos_{split}: every one was "
                        f"skipped ({'; '.join(sorted(set(reasons)))})"
                    )

    def _fit(
        self, model: _Model, splits: Mapping[str, _Split], num_classes: int, choice: BackboneChoice
    ) -> tuple[dict[str, Tensor], int, tuple[Epoch, ...]]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress

        options = self.options
        train = splits["train"]
        groups: list[dict[str, Any]] = [
            {"params": list(model.head.parameters()), "lr": options.learning_rate}
        ]
        if model.layers is not None:
            groups.append(
                {"params": list(model.layers.parameters()), "lr": options.finetune_learning_rate}
            )
        optimizer = torch.optim.AdamW(groups, weight_decay=options.weight_decay)
        weights = _class_weights(train, num_classes)
        augment = augmentation(options.augment, options.mirror, landmarks=choice.landmarks)
        rng = np.random.default_rng(options.seed)
        best_eval: Evaluation | None = None
        best_state = copy.deepcopy(model.state_dict())
        best_epoch = 0
        history: list[Epoch] = []
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            "{task.fields[status]}",
            console=self.console,
        ) as progress:
            task = progress.add_task("Training", total=options.epochs, status="")
            for epoch in range(1, options.epochs + 1):
                model.train()
                order = rng.permutation(len(train.inputs))
                seen = right = 0
                total_loss = 0.0
                for start in range(0, len(order), options.videos_per_batch):
                    batch = order[start : start + options.videos_per_batch]
                    logits_list, targets_list = [], []
                    for i in batch:
                        features = model.features(train.inputs[i])
                        if augment is not None:
                            features = augment(features, rng)
                        # Windows end at every feature: a temporal jitter of a fraction of a step.
                        logits = model.windows(features, every=1)
                        logits_list.append(logits)
                        targets_list.append(torch.full((logits.shape[0],), train.targets[i]))
                    logits, targets = torch.cat(logits_list), torch.cat(targets_list)
                    loss = F.cross_entropy(logits, targets, weight=weights)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    seen += len(targets)
                    right += int((logits.argmax(dim=1) == targets).sum())
                    total_loss += float(loss.detach()) * len(targets)
                evaluation = _evaluate(model, splits["valid"], num_classes)
                history.append(
                    Epoch(
                        epoch, total_loss / seen, right / seen, evaluation.accuracy, evaluation.loss
                    )
                )
                if evaluation.better_than(best_eval):
                    best_eval, best_epoch = evaluation, epoch
                    best_state = copy.deepcopy(model.state_dict())
                assert best_eval is not None
                progress.update(
                    task,
                    advance=1,
                    status=f"train {right / seen:.0%}  valid {evaluation.accuracy:.0%}  "
                    f"best {best_eval.accuracy:.0%} (epoch {best_epoch})",
                )
                # Early stop: validation accuracy (then loss, on a tie) stopped improving.
                if epoch - best_epoch >= options.patience:
                    break
            assert best_eval is not None
            progress.update(
                task,
                status=stop_reason(len(history), options.epochs, best_epoch, best_eval.accuracy),
            )
        return best_state, best_epoch, tuple(history)


def confusion_table(labels: Sequence[str], confusion: np.ndarray) -> Table:
    """The confusion matrix (``[true, predicted]`` counts) as ``rtnet train`` and ``rtnet eval``
    show it: the diagonal bold, mistakes red."""
    from rich.table import Table

    matrix = Table(title="Confusion matrix (rows: true class, columns: predicted)")
    matrix.add_column("true \\ predicted")
    for label in labels:
        matrix.add_column(label, justify="right")
    for i, label in enumerate(labels):
        cells = [
            f"[bold]{n}[/]" if i == j else (f"[red]{n}[/]" if n else "[dim]0[/]")
            for j, n in enumerate(confusion[i])
        ]
        matrix.add_row(label, *cells)
    return matrix


def print_report(result: TrainResult, console: Console) -> None:
    """Per-class accuracy, the confusion matrix and what happened to the videos."""
    from rich.markup import escape
    from rich.table import Table

    labels = result.labels
    valid = result.valid
    per_class = Table(title="Validation accuracy per class")
    per_class.add_column("class")
    per_class.add_column("windows", justify="right")
    per_class.add_column("accuracy", justify="right")
    totals = valid.confusion.sum(axis=1)
    for label, total, accuracy in zip(labels, totals, valid.per_class(), strict=True):
        colour = "green" if accuracy >= 0.9 else "yellow" if accuracy >= 0.6 else "red"
        per_class.add_row(label, str(total), f"[{colour}]{accuracy:.0%}[/]")
    console.print(per_class)
    console.print(confusion_table(labels, valid.confusion))
    console.print(
        f"Validation accuracy {valid.accuracy:.1%} ({int(valid.confusion.sum())} windows of "
        f"{result.window_s:g} s), per video "
        f"{valid.video_accuracy:.1%}; training accuracy {result.train_accuracy:.1%}; best epoch "
        f"{result.best_epoch} of {result.epochs_run}"
    )
    console.print(
        f"Features: {result.extracted} videos extracted, {result.reused} reused from the cache"
        + (f", {len(result.skipped)} skipped" if result.skipped else "")
    )
    for item in result.skipped:
        console.print(f"  [yellow]skipped[/] {item.video.name}: {item.reason}")
    if result.leaks:
        videos = len({leak.valid for leak in result.leaks})
        console.print(
            f"[yellow]warning: {videos} validation video{'s' * (videos != 1)} repeat "
            f"training videos (listed above): the validation accuracy overstates how well the "
            "classifier does on new clips; record validation clips from other takes, or other "
            "parts of a file (rtnet record --start S)[/]",
            highlight=False,
        )
    advice = overfitting_advice(
        result.train_accuracy, valid.accuracy, finetunable=not result.choice.landmarks
    )
    if advice is not None:
        console.print(f"[yellow]warning: {advice}[/]", highlight=False)
    folder = str(result.checkpoint)
    console.print(
        f"Saved [bold]{escape(folder)}[/]  ->  rtnet run --classifier {escape(shlex.quote(folder))}"
    )
