"""Draw the curves and scores of `experiments/motion_pretraining.sh` runs into one PNG.

    python experiments/pretraining_curves.py OUT.png NAME=RUN_DIR [NAME=RUN_DIR ...]

RUN_DIR is a script output folder (``RUN_DIR/pretrain/metrics.jsonl``, ``RUN_DIR/eval-final.json``).
Top row, against the step: the pretraining loss (mean over 50 steps), the per-dimension std of the
layer-normed targets and the effective rank of the pooled targets (the collapse monitors). Bottom
row: within-pair direction accuracy and top-1 of the final target encoder under the position-free
attentive probe and the positions-added probe, beside the random-init controls of the first run
that has them. Needs matplotlib (the ``train`` extra).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

PROBES = (("attentive", "attentive"), ("attentive_positions", "attentive + positions"))


def read_metrics(run: Path) -> dict[str, np.ndarray]:
    """Per-step loss and the logged collapse monitors of one run, as (step, value) arrays."""
    rows = [json.loads(line) for line in (run / "pretrain" / "metrics.jsonl").open()]
    out = {}
    for key in ("loss", "target_std", "effective_rank"):
        pairs = [(r["step"], r[key]) for r in rows if key in r and "step" in r]
        out[key] = np.array(pairs, dtype=float).reshape(-1, 2)
    return out


def smooth(values: np.ndarray, width: int = 50) -> np.ndarray:
    """Trailing mean over ``width`` points (shorter at the start)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), width)
    return (sums[1:] - sums[np.arange(len(values)) + 1 - counts]) / counts


def score_rows(runs: dict[str, Path]) -> list[tuple[str, dict]]:
    """(label, encoder scores) for each run's final encoder, then the first run's controls."""
    rows, controls = [], []
    for name, run in runs.items():
        path = run / "eval-final.json"
        if not path.is_file():
            continue
        encoders = json.loads(path.read_text())["encoders"]
        rows.append((name, encoders["encoder"]))
        if not controls:
            controls = [(key, value) for key, value in encoders.items() if key != "encoder"]
    return rows + controls


def draw(runs: dict[str, Path], out: Path) -> None:
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for name, run in runs.items():
        metrics = read_metrics(run)
        loss = metrics["loss"]
        axes[0, 0].plot(loss[:, 0], smooth(loss[:, 1]), label=name)
        for ax, key in zip(axes[0, 1:], ("target_std", "effective_rank"), strict=True):
            ax.plot(metrics[key][:, 0], smooth(metrics[key][:, 1], 5), label=name)
    titles = ("loss (mean of 50 steps)", "target std", "effective rank of pooled targets")
    for ax, title in zip(axes[0], titles, strict=True):
        ax.set(title=title, xlabel="step")
        ax.legend(fontsize=8)
    axes[0, 0].set_yscale("log")
    rows = score_rows(runs)
    for ax, metric, chance in ((axes[1, 0], "within_pair", 0.5), (axes[1, 1], "top1", 1 / 6)):
        draw_scores(ax, rows, metric, chance)
    axes[1, 2].axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=90)


def draw_scores(ax, rows: list[tuple[str, dict]], metric: str, chance: float) -> None:
    """Grouped bars: one group per encoder, one bar per probe, error bars over probe seeds."""
    x = np.arange(len(rows))
    for i, (key, label) in enumerate(PROBES):
        means = [row[key][metric]["mean"] if key in row else np.nan for _, row in rows]
        stds = [row[key][metric]["std"] if key in row else 0.0 for _, row in rows]
        ax.bar(x + (i - 0.5) * 0.38, means, 0.38, yerr=stds, label=label)
    ax.axhline(chance, color="k", linestyle="--", linewidth=1, label="chance")
    ax.set_xticks(x, [name for name, _ in rows], rotation=30, ha="right", fontsize=8)
    ax.set(title=f"final target encoder: {metric.replace('_', '-')}", ylim=(0, 1))
    ax.legend(fontsize=8)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or any("=" not in arg for arg in argv[1:]):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    runs = {}
    for arg in argv[1:]:
        name, run = arg.split("=", 1)
        runs[name] = Path(run)
    draw(runs, Path(argv[0]))
    print(f"wrote {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
