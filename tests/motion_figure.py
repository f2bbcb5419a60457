"""The held-out figure of custom classifiers on the six generated motions (synthetic_motions):
generate a dataset, `rtnet train --backbone lite0` on it, then run the checkpoint, as
`rtnet run --classifier` runs it, on held-out clips (``videos_test``) and count per class.

    .venv/bin/python tests/motion_figure.py /tmp/motions --train 8 --valid 2 --test 5 --threads 2

With ``--person`` the motions are performed by a person (tests/synthetic_person.py) instead of
a ball, which the pose backbone can see too: ``--backbone pose`` and ``--backbone lite0`` then
compare on the same clips.

prints the training time (wall and CPU), the training report, and per class the held-out clips
recognised and the held-out steps right. ``tests/test_motions.py`` runs a smaller version.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from synthetic_motions import MOTIONS, make_motion_dataset
from synthetic_person import make_person_dataset


@dataclass(frozen=True)
class HeldOut:
    labels: tuple[str, ...]
    videos: dict[str, tuple[int, int]]  # class -> (clips recognised, clips)
    steps: dict[str, tuple[int, int]]  # class -> (steps right, steps scored)

    @property
    def video_accuracy(self) -> float:
        return sum(r for r, _ in self.videos.values()) / sum(n for _, n in self.videos.values())

    @property
    def step_accuracy(self) -> float:
        return sum(r for r, _ in self.steps.values()) / sum(n for _, n in self.steps.values())

    def table(self) -> str:
        rows = [f"{'class':<14}{'clips':>8}{'steps':>9}"]
        for label in self.labels:
            (vr, vn), (sr, sn) = self.videos[label], self.steps[label]
            rows.append(f"{label:<14}{f'{vr}/{vn}':>8}{sr / max(sn, 1):>9.1%}")
        rows.append(f"{'all':<14}{self.video_accuracy:>8.1%}{self.step_accuracy:>9.1%}")
        return "\n".join(rows)


def held_out(checkpoint: Path, dataset: Path) -> HeldOut:
    """Each ``videos_test`` clip through the classifier as ``rtnet run`` runs it (FrameRing,
    a model step per 4 frames at 16 fps, the streaming head); a clip's class is the mean of its
    step probabilities once the head has seen half its context (as training scores it)."""
    from rtnet.training.classifier import OUTPUT, load_classifier, read_checkpoint
    from rtnet.training.evaluate import iterate_steps, step_network

    loaded = load_classifier(read_checkpoint(checkpoint))
    network, labels = step_network(loaded.network), loaded.labels
    settle = max(1, loaded.checkpoint.config.head.steps // 2)
    videos = {label: (0, 0) for label in labels}
    steps = {label: (0, 0) for label in labels}
    for path in sorted((dataset / "videos_test").glob("*/*")):
        label = path.parent.name
        probs = list(iterate_steps(network, OUTPUT, path))
        scored = np.array(probs[settle - 1 :])
        target = labels.index(label)
        right = int((scored.argmax(axis=1) == target).sum())
        v, n = videos[label]
        videos[label] = (v + int(scored.mean(axis=0).argmax() == target), n + 1)
        s, m = steps[label]
        steps[label] = (s + right, m + len(scored))
    return HeldOut(labels, videos, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--train", type=int, default=8)
    parser.add_argument("--valid", type=int, default=2)
    parser.add_argument("--test", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--finetune-layers", type=int, default=0)
    parser.add_argument("--name", default=None, help="checkpoint name (default: the backbone)")
    parser.add_argument("--backbone", default="lite0", choices=("lite0", "pose"))
    parser.add_argument("--person", action="store_true", help="a person moves, not a ball")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch
    from rich.console import Console

    from rtnet.training.train import Trainer, TrainOptions

    torch.set_num_threads(args.threads)
    if not (args.root / "videos_train").exists():
        make = make_person_dataset if args.person else make_motion_dataset
        make(args.root, args.train, args.valid, args.test, args.seconds, motions=MOTIONS)
    report = io.StringIO()
    wall, cpu = time.perf_counter(), time.process_time()
    result = Trainer(
        TrainOptions(
            dataset=args.root,
            backbone=args.backbone,
            name=args.name,
            force=True,
            seed=args.seed,
            finetune_layers=args.finetune_layers,
        ),
        Console(file=report, width=120),
    ).run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    figure = held_out(result.checkpoint, args.root)
    if args.json:
        print(
            json.dumps(
                {
                    "train_wall_s": round(wall, 1),
                    "train_cpu_s": round(cpu, 1),
                    "extracted": result.extracted,
                    "epochs_run": result.epochs_run,
                    "best_epoch": result.best_epoch,
                    "valid_accuracy": result.valid.accuracy,
                    "train_accuracy": result.train_accuracy,
                    "held_out_video_accuracy": figure.video_accuracy,
                    "held_out_step_accuracy": figure.step_accuracy,
                    "held_out_videos": {k: f"{r}/{n}" for k, (r, n) in figure.videos.items()},
                    "held_out_steps": {k: r / n for k, (r, n) in figure.steps.items()},
                }
            )
        )
        return
    print(report.getvalue())
    print(
        f"rtnet train: {wall:.0f} s wall, {cpu:.0f} s CPU ({result.extracted} videos extracted, "
        f"{result.epochs_run} epochs)"
    )
    print(figure.table())


if __name__ == "__main__":
    main()
