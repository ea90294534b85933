"""``vjepa2 make-robot-data``: exploration episodes of the toy robot world (see `vjepa2.sim`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli.app import app
from vjepa2.data.robot_data import make_robot_dataset
from vjepa2.sim import TASKS


@app.command("make-robot-data", no_args_is_help=True)
def make_robot_data(
    out: Annotated[Path, typer.Argument(help="Folder to write the dataset into.")],
    task: Annotated[str, typer.Option(help=f"The world's task: {' or '.join(TASKS)}.")] = "push",
    episodes: Annotated[int, typer.Option(help="Number of episodes (train + val).")] = 100,
    steps: Annotated[int, typer.Option(help="Actions per episode (frames = steps + 1).")] = 50,
    val_fraction: Annotated[
        float, typer.Option(help="Share of the episodes held out in val/ (the last ones).")
    ] = 0.1,
    seed: Annotated[int, typer.Option(help="Everything is drawn from this seed.")] = 0,
    size: Annotated[int, typer.Option(help="Frame width and height in pixels (even).")] = 64,
    fps: Annotated[float, typer.Option(help="Frame rate written into the files.")] = 4.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Generate robot trajectories in the toy world: a gripper seen from above, moved by 7-D
    actions (Δxyz, Δ Euler xyz, Δgripper) under a smoothed random exploration policy that, in
    the push task, steers into the object now and then. Deterministic from --seed.

    **Examples**

    ```
    vjepa2 make-robot-data robot-push/ --task push --episodes 1000 --steps 50
    vjepa2 make-robot-data robot-reach/ --task reach --episodes 200 --size 128 --seed 1
    vjepa2 make-robot-data tiny/ --episodes 4 --steps 8 --size 32 --val-fraction 0.25
    ```

    Writes OUT/train/episode_NNNNNN.{mp4,npz} and OUT/val/... (the trajectory format of
    docs/robot-world.md: H.264 video + states [T, 7], actions [T-1, 7], fps) and
    OUT/robot-data.json (the settings). An interrupted run resumes when rerun with the same
    settings; a non-empty OUT holding anything else is refused, never overwritten.
    """
    dataset = make_robot_dataset(
        out, task=task, episodes=episodes, steps=steps, val_fraction=val_fraction, seed=seed,
        size=size, fps=fps, progress=not quiet,
    )  # fmt: skip
    counts = ", ".join(f"{len(names)} {split}" for split, names in dataset.episodes.items())
    kept = episodes - dataset.written
    resumed = f" ({kept} already there)" if kept else ""
    typer.echo(f"wrote {counts} episodes of the {task} task to {out}{resumed}")
