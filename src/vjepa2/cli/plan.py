"""``vjepa2 plan``: robot actions from a start image towards a goal image with a world model."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import torch
import typer
from rich.console import Console
from rich.table import Table

from vjepa2.cli.app import app
from vjepa2.runtime import pick_device
from vjepa2.video import VideoDecodeError, read_image
from vjepa2.weights.loader import CheckpointError
from vjepa2.world_model import WorldModel, load_world_model
from vjepa2.world_model.landscape import draw_landscape, energy_landscape, require_matplotlib
from vjepa2.world_model.pose import POSE_DIM

POSE_ACTION_NAMES = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "dgripper")


def _numbers(text: str, kind: type, option: str) -> list:
    try:
        return [kind(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as err:
        raise typer.BadParameter(
            f"expected comma-separated numbers, got {text!r}", param_hint=option
        ) from err


def _gripper_dim(text: str, planned: list[int] | None) -> int | str | None:
    """``auto``: the model's gripper dim (6 for 7-D actions), unless ``--planned-dims`` leaves
    it out; ``none``; or a dim."""
    if text == "auto":
        return None if planned is not None and POSE_DIM - 1 not in planned else "auto"
    if text == "none":
        return None
    try:
        return int(text)
    except ValueError as err:
        raise typer.BadParameter(
            f"expected auto, none or an action dim, got {text!r}", param_hint="--gripper-dim"
        ) from err


def _load(model: Path, config: Path | None, device: str) -> WorldModel:
    try:
        return load_world_model(model, config=config, device=pick_device(device)).eval()
    except (CheckpointError, OSError, ValueError, KeyError) as err:
        raise typer.BadParameter(str(err), param_hint="--model") from err


def _encode(wm: WorldModel, start: Path, goal: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The start and goal images' encodings, each ``[1, N, D]``."""
    images = []
    for path, option in ((start, "--start"), (goal, "--goal")):
        try:
            images.append(wm.transform(read_image(path)[0]))  # [1, 3, crop, crop]
        except VideoDecodeError as err:
            raise typer.BadParameter(str(err), param_hint=option) from err
    frames = torch.cat(images)
    device = wm.predictor.predictor_embed.weight.device
    start_h, goal_h = wm.encode_frames(frames[:, None].to(device)).chunk(2)
    return start_h, goal_h


def _check_landscape(points: int, extent: float) -> None:
    try:
        require_matplotlib()
    except ImportError as err:
        raise typer.BadParameter(str(err), param_hint="--landscape") from err
    if points < 2 or extent <= 0:
        raise typer.BadParameter(
            f"need --landscape-points >= 2 and --landscape-extent > 0, got {points} and {extent}"
        )


def _plan(
    wm: WorldModel,
    start_h: torch.Tensor,
    goal_h: torch.Tensor,
    state: torch.Tensor,
    options: dict[str, Any],
) -> tuple[torch.Tensor, dict[str, Any]]:
    """The planned actions ``[horizon, A]`` (on the CPU) and the JSON record: the actions, the
    energy of the plan and of not moving, the planning time."""
    began = time.perf_counter()
    try:
        actions = wm.plan_from_encodings(start_h, goal_h, state, **options)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err
    seconds = time.perf_counter() - began
    with torch.no_grad():
        candidates = torch.stack([actions, torch.zeros_like(actions)])
        energies = wm.energy(start_h, goal_h, candidates, state).float().cpu()
    record = {
        "actions": actions.tolist(),
        "energy": float(energies[0]),
        "zero_action_energy": float(energies[1]),
        "seconds": round(seconds, 4),
        "device": str(start_h.device),
    }
    return actions.cpu(), record


def _report(actions: torch.Tensor, record: dict[str, Any], as_json: bool) -> None:
    names = POSE_ACTION_NAMES if actions.size(1) == POSE_DIM else None
    names = names or tuple(f"a{i}" for i in range(actions.size(1)))
    if as_json:
        typer.echo(json.dumps({"action_names": list(names), **record}))
        return
    table = Table(title="planned actions (execute the first, observe, plan again)")
    table.add_column("step", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    for step, row in enumerate(actions.tolist()):
        table.add_row(str(step + 1), *(f"{value:+.4f}" for value in row))
    console = Console()
    console.print(table)
    console.print(
        f"energy: plan {record['energy']:.4f}, no motion {record['zero_action_energy']:.4f}; "
        f"planned in {record['seconds']:.2f} s on {record['device']}"
    )
    if "landscape" in record:
        best = record["landscape"]["minimum"]
        console.print(
            f"landscape: {record['landscape']['path']}, lowest energy {best['energy']:.4f} at "
            f"Δx {best['dx']:+.3f}, Δy {best['dy']:+.3f}, Δz {best['dz']:+.3f}"
        )


@app.command(no_args_is_help=True)
def plan(
    model: Annotated[
        Path,
        typer.Option(
            "--model",
            "-m",
            help="World model: Meta's AC .pt (vjepa2-ac-vitg.pt) or our directory "
            "(config.json + model.safetensors).",
        ),
    ],
    start: Annotated[Path, typer.Option(help="The current camera image (png, jpg, ...).")],
    goal: Annotated[Path, typer.Option(help="The goal image, from the same camera.")],
    pose: Annotated[
        str,
        typer.Option(
            help="The current state, comma-separated: x,y,z,rx,ry,rz,g (xyz Euler angles, "
            "gripper 0..1) for 7-D models."
        ),
    ],
    config: Annotated[
        Path | None,
        typer.Option(help="config.json of the architecture, for a .pt of a non-released size."),
    ] = None,
    horizon: Annotated[int, typer.Option(help="Steps planned ahead.")] = 2,
    samples: Annotated[int, typer.Option(help="Trajectories sampled per CEM iteration.")] = 400,
    top_k: Annotated[int, typer.Option(help="Lowest-energy trajectories that refit CEM.")] = 10,
    iterations: Annotated[int, typer.Option(help="CEM iterations.")] = 10,
    momentum: Annotated[
        float, typer.Option(help="Weight of the old mean and std in each CEM update.")
    ] = 0.15,
    maxnorm: Annotated[
        float, typer.Option(help="Initial std and bound of every planned dim but the gripper.")
    ] = 0.05,
    planned_dims: Annotated[
        str | None,
        typer.Option(
            help="Action dims to plan, e.g. 0,1,2,6 (the default for 7-D actions: xyz and "
            "gripper, rotation fixed to 0 as the original; all dims otherwise)."
        ),
    ] = None,
    gripper_dim: Annotated[
        str, typer.Option(help="The gripper's action dim: auto (6 for 7-D actions), none, or N.")
    ] = "auto",
    gripper_max: Annotated[float, typer.Option(help="Bound of the gripper action.")] = 0.75,
    gripper_std: Annotated[float, typer.Option(help="Initial std of the gripper action.")] = 1.0,
    gripper_round: Annotated[
        float, typer.Option(help="A planned gripper action below this magnitude becomes 0.")
    ] = 0.25,
    seed: Annotated[int, typer.Option(help="Random seed (the same seed, the same plan).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    landscape: Annotated[
        Path | None,
        typer.Option(
            help="Also write the energy landscape of one-step moves (Δx-Δy heatmaps per Δz) "
            "to this PNG (needs matplotlib: pip install vjepa2[train])."
        ),
    ] = None,
    landscape_points: Annotated[int, typer.Option(help="Grid values per axis.")] = 5,
    landscape_extent: Annotated[float, typer.Option(help="The grid spans ±this.")] = 0.075,
    device: Annotated[
        str, typer.Option(help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps.")
    ] = "auto",
) -> None:
    """Plan robot actions towards a goal image with a V-JEPA 2-AC world model (CEM).

    Encodes both images (central square, resized to the model's crop), samples action
    trajectories, rolls each out with the predictor (all samples in one batched call per step),
    scores the last predicted frame by its L1 distance to the goal, and refits the sampler on the
    best ones. Prints the mean trajectory, [horizon, action dims]: execute the first action,
    take a new picture, plan again.

    **Examples**

    ```
    vjepa2 plan -m vjepa2-ac-vitg.pt --start now.png --goal goal.png --pose 0.45,0,0.3,3.1,0,0,0
    vjepa2 plan -m my-wm/ --start now.jpg --goal goal.jpg --pose 0.5,0.1,0.2,3.1,0,0,1 --json
    vjepa2 plan -m ac.pt --config config.json --start a.png --goal b.png --pose 0,0,0,0,0,0,0 \\
        --samples 800 --iterations 20 --planned-dims 0,1,2,3,4,5,6 --landscape energy.png
    ```
    """
    state = torch.tensor(_numbers(pose, float, "--pose"))
    dims = None if planned_dims is None else _numbers(planned_dims, int, "--planned-dims")
    if landscape is not None:
        _check_landscape(landscape_points, landscape_extent)
    wm = _load(model, config, device)
    if state.numel() != wm.config.predictor.state_dim:
        raise typer.BadParameter(
            f"the model's states have {wm.config.predictor.state_dim} values, got {state.numel()}",
            param_hint="--pose",
        )
    start_h, goal_h = _encode(wm, start, goal)
    options = dict(
        horizon=horizon, planned_dims=dims, gripper_dim=_gripper_dim(gripper_dim, dims),
        seed=seed, samples=samples, topk=top_k, iterations=iterations, maxnorm=maxnorm,
        momentum_mean=momentum, momentum_std=momentum, momentum_mean_gripper=momentum,
        momentum_std_gripper=momentum, gripper_max=gripper_max, gripper_std=gripper_std,
        gripper_round=gripper_round,
    )  # fmt: skip
    actions, record = _plan(wm, start_h, goal_h, state, options)
    if landscape is not None:
        grid = energy_landscape(
            wm, start_h, goal_h, state, points=landscape_points, extent=landscape_extent
        )
        draw_landscape(grid, landscape)
        record["landscape"] = {"path": str(landscape), **grid.to_dict()}
    _report(actions, record, as_json)
