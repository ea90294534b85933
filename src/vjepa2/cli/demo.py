"""``vjepa2 demo``: classify a generated motion clip with the bundled model, or (``--plan``) plan
one episode in the toy robot world with the bundled world model; offline, on the CPU."""

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
from vjepa2.inference.plan_eval import PlannerSettings, evaluate_planning, write_episode_video
from vjepa2.presets import DEMO_DIR
from vjepa2.sim import TASKS
from vjepa2.video.writer import encode_video
from vjepa2.world_model import load_world_model

WORLD_MODEL_DIR = DEMO_DIR.parent / "world-model"
"""The bundled world model: config.json + model.safetensors, and plan.json (how it plans, how it
was made and what it measured)."""


@app.command()
def demo(
    video: Annotated[
        Path | None, typer.Option(help="Classify this file instead of a generated clip.")
    ] = None,
    motion: Annotated[
        str | None,
        typer.Option(help=f"Motion to draw: {', '.join(DEMO_CLASSES)}; default: picked by --seed."),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Which generated clip (with --plan: which planning episode).")
    ] = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the generated clip (default vjepa2-demo.mp4) or, with --plan, "
            "the episode (default vjepa2-plan.gif; .mp4 for H.264)."
        ),
    ] = None,
    top_k: Annotated[int, typer.Option(help="Labels to show.", min=1)] = 5,
    plan: Annotated[
        bool,
        typer.Option(
            "--plan",
            help="Instead: plan one episode of the toy robot world with the bundled world "
            "model and write it as a GIF (the frames beside the goal image).",
        ),
    ] = False,
    task: Annotated[str, typer.Option(help=f"With --plan: {' or '.join(TASKS)}.")] = "reach",
) -> None:
    """Draw a clip of the synthetic motion benchmark, write it as an mp4, and classify it with
    the demo model shipped in the package (no download, no GPU). With --plan, let the bundled
    world model reach a goal image in the toy robot world instead.

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
    vjepa2 demo --plan
    vjepa2 demo --plan --task push --seed 2 --out push.gif
    ```
    """
    if plan:
        _plan_demo(task, seed, out or Path("vjepa2-plan.gif"))
        return
    out = out or Path("vjepa2-demo.mp4")
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


def _plan_demo(task: str, seed: int, out: Path) -> None:
    """One closed-loop episode of ``task`` with the bundled world model: episode ``seed`` of its
    measured evaluation (world and planner seeded ``plan.json``'s seed + ``seed``)."""
    if task not in TASKS:
        raise UsageError(f"--task {task}: choose one of {', '.join(TASKS)}")
    start = time.perf_counter()
    recipe = json.loads((WORLD_MODEL_DIR / "plan.json").read_text())
    wm = load_world_model(WORLD_MODEL_DIR).eval()
    summary = evaluate_planning(
        task, "model", wm, episodes=1, max_steps=recipe["max_steps"], seed=recipe["seed"] + seed,
        size=recipe["size"], settings=PlannerSettings(**recipe["planner"]), keep_frames_of=0,
    )  # fmt: skip
    result = summary.results[0]
    write_episode_video(out, result.frames)
    seconds = time.perf_counter() - start
    verdict = (f"[green]reached the goal in {result.steps} steps[/green]" if result.success
               else f"[red]did not reach the goal in {result.steps} steps[/red]")  # fmt: skip
    rate = recipe["success_rate"].get(task)
    episodes = recipe["episodes"].get(task)
    measured = f", {rate:.0%} success on {episodes} {task} episodes" if episodes else ""
    Console().print(
        f"[bold]{out}[/bold]: the bundled world model ({wm.num_parameters() / 1e6:.1f}M "
        f"parameters{measured}) "
        f"{verdict}, final distance {result.final_distance:.3f} m (success: within "
        f"{recipe['tolerance']} m). Done in {seconds:.1f} s on the CPU. See docs/world-model.md."
    )


def _tuples(settings: dict) -> dict:
    """motion.json stores tuples as lists."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}
