"""``vjepa2 demo``: classify a generated motion clip with the bundled model, offline, on the CPU."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

import vjepa2
from vjepa2.cli.app import app
from vjepa2.data.motion import DEMO_CLASSES, MotionSettings, render_clip
from vjepa2.errors import UsageError
from vjepa2.presets import DEMO_DIR
from vjepa2.video.writer import encode_video


@app.command()
def demo(
    video: Annotated[
        Path | None, typer.Option(help="Classify this file instead of a generated clip.")
    ] = None,
    motion: Annotated[
        str | None,
        typer.Option(help=f"Motion to draw: {', '.join(DEMO_CLASSES)}; default: picked by --seed."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Which generated clip.")] = 0,
    out: Annotated[Path, typer.Option(help="Where to write the generated clip.")] = Path(
        "vjepa2-demo.mp4"
    ),
    top_k: Annotated[int, typer.Option(help="Labels to show.", min=1)] = 5,
) -> None:
    """Draw a clip of the synthetic motion benchmark, write it as an mp4, and classify it with
    the demo model shipped in the package (no download, no GPU).

    The demo model is a small V-JEPA 2 encoder (6 blocks, 128 wide, 64 px, 16 frames),
    pretrained by `vjepa2 pretrain` on unlabelled clips, with an attentive probe trained by
    `vjepa2 train-probe` on labelled clips of the benchmark's demo variant
    (`vjepa2 make-motion-data --variant demo`): one textured shape that translates
    left/right/up/down, grows or shrinks over a flat background. How it was made and its
    held-out accuracy: docs/pretraining.md. `vjepa2 classify VIDEO --model demo` runs the same
    model on any file.

    **Examples**

    ```
    vjepa2 demo
    vjepa2 demo --motion grow --seed 3
    vjepa2 demo --video my_clip.mp4 --top-k 3
    ```
    """
    if video is not None and not video.is_file():
        raise UsageError(f"--video {video}: no such file")
    start = time.perf_counter()
    model = vjepa2.load("demo")
    recipe = json.loads((DEMO_DIR / "motion.json").read_text())
    classes = list(model.id2label.values())
    truth = None
    if video is None:
        rng = np.random.default_rng([20260, seed])
        truth = motion or classes[int(rng.integers(len(classes)))]
        if truth not in classes:
            raise UsageError(f"--motion {truth}: choose one of {', '.join(classes)}")
        frames = render_clip(truth, rng, MotionSettings(**_tuples(recipe["settings"])))
        video = encode_video(out, frames, fps=recipe["fps"])
    predictions = vjepa2.classify(video, model=model, top_k=top_k)
    seconds = time.perf_counter() - start

    console = Console()
    what = f"a generated '{truth}' clip" if truth else "your video"
    accuracy = recipe.get("test_top1")
    measured = f", {accuracy:.0%} top-1 on its held-out test set" if accuracy else ""
    size = f"{model.num_parameters() / 1e6:.1f}M parameters{measured}"
    console.print(f"[bold]{video}[/bold] ({what}), classified by the bundled demo model ({size}) "
                  "on the CPU")  # fmt: skip
    table = Table(show_header=True)
    table.add_column("rank")
    table.add_column("motion")
    table.add_column("probability", justify="right")
    for rank, (label, probability) in enumerate(predictions, 1):
        mark = "  [green]<- correct[/green]" if label == truth and rank == 1 else ""
        table.add_row(str(rank), label + mark, f"{probability:.3f}")
    console.print(table)
    console.print(f"done in {seconds:.1f} s. Try `vjepa2 demo --motion grow --seed 3`, or "
                  f"`vjepa2 classify {video} --model demo`.")  # fmt: skip


def _tuples(settings: dict) -> dict:
    """motion.json stores tuples as lists."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}
