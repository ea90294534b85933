"""``vjepa2 plan-eval``: closed-loop planning episodes in the toy robot world, with a world model
or a baseline policy (see `vjepa2.inference.plan_eval`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vjepa2.cli.app import app
from vjepa2.inference.plan_eval import (
    POLICIES,
    EpisodeResult,
    PlanEvalSummary,
    PlannerSettings,
    evaluate_planning,
    write_episode_video,
)
from vjepa2.runtime import pick_device
from vjepa2.sim import TASKS
from vjepa2.weights.strict import CheckpointError
from vjepa2.world_model import WorldModel, load_world_model


def _load(model: Path | None, config: Path | None, policy: str, device: str) -> WorldModel | None:
    if policy != "model":
        return None
    if model is None:
        raise typer.BadParameter("--policy model needs a world model", param_hint="--model")
    try:
        return load_world_model(model, config=config, device=pick_device(device)).eval()
    except (CheckpointError, OSError, ValueError, KeyError) as err:
        raise typer.BadParameter(str(err), param_hint="--model") from err


def _print_episode(result: EpisodeResult) -> None:
    verdict = f"reached in {result.steps} steps" if result.success else "not reached"
    typer.echo(
        f"episode seed {result.seed}: {verdict}, final distance {result.final_distance:.3f} m, "
        f"{result.seconds_per_step:.3f} s/step",
        err=True,
    )


def _report(summary: PlanEvalSummary, video: Path | None) -> None:
    record = summary.to_dict()
    table = Table(title=f"plan-eval: {summary.task}, {summary.policy} policy")
    for column in ("episodes", "success", "final distance (m)", "s / step", "steps to success"):
        table.add_column(column, justify="right")
    steps = record["mean_steps_to_success"]
    table.add_row(
        str(record["episodes"]),
        f"{100 * summary.success_rate:.0f} %",
        f"{summary.mean_final_distance:.3f}",
        f"{summary.seconds_per_step:.3f}",
        "-" if steps is None else f"{steps:.1f}",
    )
    console = Console()
    console.print(table)
    if video is not None:
        console.print(f"episode video: {video}")


@app.command("plan-eval", no_args_is_help=True)
def plan_eval(
    task: Annotated[str, typer.Option(help=f"The world's task: {' or '.join(TASKS)}.")] = "reach",
    policy: Annotated[
        str,
        typer.Option(
            help="model (CEM with --model), random (uniform actions in the planner's range) "
            "or oracle (the world's scripted expert); the last two need no model."
        ),
    ] = "model",
    model: Annotated[
        Path | None,
        typer.Option(
            "--model", "-m", help="World model: our directory or Meta's AC .pt (with --config)."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="config.json of the architecture, for a .pt of a non-released size."),
    ] = None,
    episodes: Annotated[int, typer.Option(help="Episodes (episode i is seeded SEED + i).")] = 20,
    max_steps: Annotated[int, typer.Option(help="Steps per episode at most.")] = 30,
    seed: Annotated[int, typer.Option(help="Seed of the first episode's world and policy.")] = 0,
    size: Annotated[int, typer.Option(help="Frame size of the world in pixels.")] = 64,
    horizon: Annotated[int, typer.Option(help="CEM: steps planned ahead.")] = 2,
    samples: Annotated[int, typer.Option(help="CEM: trajectories per iteration.")] = 400,
    top_k: Annotated[int, typer.Option(help="CEM: lowest-energy trajectories that refit.")] = 10,
    iterations: Annotated[int, typer.Option(help="CEM: iterations per plan.")] = 10,
    momentum: Annotated[float, typer.Option(help="CEM: weight of the old mean and std.")] = 0.15,
    maxnorm: Annotated[
        float, typer.Option(help="Bound and initial std of Δxyz (also the random policy's).")
    ] = 0.05,
    gripper_max: Annotated[float, typer.Option(help="Bound of the gripper action.")] = 0.75,
    gripper_std: Annotated[float, typer.Option(help="Initial std of the gripper action.")] = 1.0,
    gripper_round: Annotated[
        float, typer.Option(help="A planned gripper action below this magnitude becomes 0.")
    ] = 0.25,
    video: Annotated[
        Path | None,
        typer.Option(
            help="Write the first episode, each frame beside the goal: .gif (animated) or .mp4."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    device: Annotated[
        str, typer.Option(help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps.")
    ] = "auto",
) -> None:
    """Measure closed-loop planning in the toy robot world: success rate, final distance to the
    goal and planning time per step.

    Each episode starts from a random state with a goal image rendered from a reachable goal
    state. With --policy model the world model plans by CEM from the current frame towards the
    goal image, the first action is executed, the new frame observed, and the plan made again,
    for at most --max-steps steps; an episode ends at its first success (reach: the gripper
    within 5 cm of the goal; push: the object and the gripper within 5 cm of theirs). The
    random and oracle baselines need no model. The CEM defaults are the original planner's;
    fewer --samples and --iterations keep a CPU run short.

    **Examples**

    ```
    vjepa2 plan-eval --model runs/ac/model --task reach --episodes 20 --max-steps 30 \\
        --samples 100 --iterations 5 --video reach.gif
    vjepa2 plan-eval --policy random --task push --episodes 50 --json
    vjepa2 plan-eval --policy oracle --task push --episodes 50 --seed 1000
    ```
    """
    if policy not in POLICIES:
        raise typer.BadParameter(f"choose one of {', '.join(POLICIES)}", param_hint="--policy")
    wm = _load(model, config, policy, device)
    settings = PlannerSettings(
        horizon=horizon, samples=samples, topk=top_k, iterations=iterations, momentum=momentum,
        maxnorm=maxnorm, gripper_max=gripper_max, gripper_std=gripper_std,
        gripper_round=gripper_round,
    )  # fmt: skip
    summary = evaluate_planning(
        task, policy, wm, episodes=episodes, max_steps=max_steps, seed=seed, size=size,
        settings=settings, keep_frames_of=0 if video else None, progress=_print_episode,
    )  # fmt: skip
    if video is not None:
        write_episode_video(video, summary.results[0].frames)
    if as_json:
        record = summary.to_dict()
        record["video"] = None if video is None else str(video)
        typer.echo(json.dumps(record))
        return
    _report(summary, video)
