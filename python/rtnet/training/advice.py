"""What ``rtnet train`` tells its user about a run beyond the figures: why training stopped, and
what to do when the classifier learnt its training clips by heart."""

from __future__ import annotations

# Training accuracy this far (or more) above validation accuracy: the head fits the training
# clips, not the classes. 15 points is well past the noise of a few validation clips per class.
OVERFITTING_GAP = 0.15


def stop_reason(epochs_run: int, epochs: int, best_epoch: int, best_accuracy: float) -> str:
    """The progress line's last words: whether training ran every epoch, or stopped early, why."""
    best = f"best {best_accuracy:.0%} at epoch {best_epoch}"
    if epochs_run >= epochs:
        return f"ran all {epochs} epochs; {best}"
    return (
        f"stopped early at epoch {epochs_run}: validation accuracy no better for "
        f"{epochs_run - best_epoch} epochs; {best}"
    )


def overfitting_advice(
    train_accuracy: float, valid_accuracy: float, *, finetunable: bool = True
) -> str | None:
    """A warning with what to try, when training accuracy is far above validation accuracy;
    ``finetunable``: the backbone has layers to fine-tune (not the pose backbone)."""
    gap = train_accuracy - valid_accuracy
    if gap < OVERFITTING_GAP:
        return None
    finetune = (
        "; --finetune-layers 1 or 2 (the backbone's last layers adapt to your clips)"
        if finetunable
        else ""
    )
    return (
        f"overfitting: training accuracy {train_accuracy:.0%} is {gap * 100:.0f} points above "
        f"validation accuracy {valid_accuracy:.0%}: the classifier learnt the training clips, "
        "not the classes. Try: more clips per class; more varied clips (other people, places, "
        f"lighting, speeds); a longer context (--context S){finetune}"
    )
