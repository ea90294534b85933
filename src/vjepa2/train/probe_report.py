"""What a probe run leaves behind for people: ``metrics.json``, and a confusion matrix and
training curves as PNG when matplotlib (an extra) is installed."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vjepa2.files import write_text_atomic

log = logging.getLogger("vjepa2.train")


def check_plotting() -> bool:
    """Whether the plots can be drawn; says so (before any work) when matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is not None:
        return True
    log.warning("matplotlib is not installed (pip install 'vjepa2[train]'): the run writes "
                "metrics.json but no confusion_matrix.png or training_curves.png")  # fmt: skip
    return False


def confusion_matrix(probs: torch.Tensor, labels: torch.Tensor, num_classes: int) -> np.ndarray:
    """Counts ``[true, predicted]``."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    if len(labels):
        np.add.at(matrix, (labels.numpy(), probs.argmax(1).numpy()), 1)
    return matrix


def write(
    run_dir: Path,
    metrics: dict[str, Any],
    losses: list[tuple[int, float]],
    test_probs: torch.Tensor,
    test_labels: torch.Tensor,
    id2label: dict[int, str],
) -> None:
    matrix = confusion_matrix(test_probs, test_labels, len(id2label))
    metrics["test"]["confusion_matrix"] = matrix.tolist()
    write_text_atomic(run_dir / "metrics.json", json.dumps(metrics, indent=1, default=str) + "\n")
    if importlib.util.find_spec("matplotlib") is None:
        return
    import matplotlib  # an extra: imported where it is needed

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [id2label[i] for i in range(len(id2label))]
    size = max(4.0, 0.45 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(names) <= 30:
        for (t, p), count in np.ndenumerate(matrix):
            if count:
                ax.text(p, t, str(count), ha="center", va="center", fontsize=7,
                        color="white" if count > matrix.max() / 2 else "black")  # fmt: skip
    ax.set_title(f"test top-1 {metrics['test']['top1']:.3f}")
    fig.tight_layout()
    fig.savefig(run_dir / "confusion_matrix.png", dpi=120)
    plt.close(fig)

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    if losses:
        steps, values = zip(*losses, strict=True)
        left.plot(steps, values, lw=0.8)
    left.set_xlabel("optimizer step")
    left.set_ylabel("train loss (mean over probes)")
    epochs = [h["epoch"] for h in metrics["history"]]
    right.plot(
        epochs, [h["best_val_top1"] for h in metrics["history"]], marker="o", label="val top-1"
    )
    right.axhline(metrics["test"]["top1"], color="gray", ls="--", label="test top-1 (best probe)")
    right.set_xlabel("epoch")
    right.set_ylim(0, 1)
    right.legend()
    fig.tight_layout()
    fig.savefig(run_dir / "training_curves.png", dpi=120)
    plt.close(fig)
