"""Draw the held-out curves of `experiments/supervised_ceiling.py` runs into one PNG.

    python experiments/ceiling_curves.py OUT.png NAME=CURVE.json [NAME=CURVE.json ...]

Each CURVE.json is a ``--json`` output of `supervised_ceiling.py`. Left: top-1, right:
within-pair direction accuracy, both against the labelled clips seen (steps × batch, so runs of
different batch sizes line up), with chance marked. Needs matplotlib (the ``train`` extra).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

METRICS = (("top1", "top-1", 1 / 6), ("within_pair", "within-pair direction", 0.5))


def main(argv: list[str]) -> None:
    if len(argv) < 2 or any("=" not in arg for arg in argv[1:]):
        sys.exit(__doc__.splitlines()[2])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    for arg in argv[1:]:
        name, path = arg.split("=", 1)
        run = json.loads(Path(path).read_text())
        batch = run["settings"]["batch"]
        clips = [point["step"] * batch / 1000 for point in run["curve"]]
        for ax, (key, _, _) in zip(axes, METRICS, strict=True):
            ax.plot(clips, [point[key] for point in run["curve"]], label=name)
    for ax, (_, title, chance) in zip(axes, METRICS, strict=True):
        ax.axhline(chance, color="grey", linestyle=":", label="chance")
        ax.set(title=title, xlabel="labelled clips seen (thousands)", ylim=(0, 1.02))
    axes[1].legend(fontsize=8, loc="lower right")
    fig.savefig(argv[0], dpi=110)
    print(f"wrote {argv[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
