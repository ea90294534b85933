"""`make_robot_dataset`: exploration episodes of the toy robot world (`vjepa2.sim`) written in
the trajectory format of `vjepa2.data.trajectories` (``vjepa2 make-robot-data``).

Episode ``i`` of ``n`` is drawn from ``numpy.random.default_rng((seed, i))`` alone, so it is the
same whatever the other episodes, and an interrupted run resumes where it stopped: the settings
are written first to ``robot-data.json``, each episode's .npz last, and a rerun with the same
settings skips the episodes that are complete. A folder that is not empty and holds no dataset
of the same settings is refused, never overwritten.

Each episode has ``steps + 1`` frames and states and ``steps`` actions (the actions as the world
applied them, after clipping); its .npz also holds ``object_positions`` float32 [T, 2] and
``goal_state`` [7] / ``goal_object`` [2] (the goal `RobotWorld.reset` drew, unused by the
exploration policy). The last ``round(episodes * val_fraction)`` episodes (at least one when
``val_fraction > 0`` and there are two or more episodes) form the validation split.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vjepa2.data.trajectories import episode_paths, write_episode
from vjepa2.errors import UsageError
from vjepa2.sim import ExplorationPolicy, RobotWorld

SETTINGS_FILE = "robot-data.json"
FORMAT = "vjepa2-trajectories/1"


@dataclass(frozen=True)
class RobotDataset:
    """What `make_robot_dataset` wrote: the root and the episode names per split."""

    root: Path
    episodes: dict[str, list[str]]
    written: int


def episode_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng((seed, index))


def run_episode(env: RobotWorld, rng: np.random.Generator, steps: int) -> dict[str, np.ndarray]:
    """Reset ``env`` and explore for ``steps`` steps: frames uint8 [T, H, W, 3], states [T, 7],
    actions [T-1, 7], object_positions [T, 2], goal_state [7], goal_object [2]."""
    frame, info = env.reset(seed=int(rng.integers(2**31)))
    policy = ExplorationPolicy(env, rng)
    frames, states, objects, actions = [frame], [env.state], [env.object_position], []
    for _ in range(steps):
        frame, _, _, _, step_info = env.step(policy())
        frames.append(frame)
        states.append(env.state)
        objects.append(env.object_position)
        actions.append(step_info["action"])
    return {
        "frames": np.stack(frames),
        "states": np.stack(states).astype(np.float32),
        "actions": np.stack(actions).astype(np.float32),
        "object_positions": np.stack(objects).astype(np.float32),
        "goal_state": info["goal_state"].astype(np.float32),
        "goal_object": info["goal_object"].astype(np.float32),
    }


def validation_count(episodes: int, val_fraction: float) -> int:
    if val_fraction <= 0 or episodes < 2:
        return 0
    return min(episodes - 1, max(1, round(episodes * val_fraction)))


def _check_folder(root: Path, settings: dict) -> None:
    """Refuse a non-empty folder unless it holds a dataset of exactly these settings."""
    if not root.exists():
        return
    if not root.is_dir():
        raise UsageError(f"{root} exists and is not a folder")
    if not any(root.iterdir()):
        return
    existing = root / SETTINGS_FILE
    if not existing.is_file():
        raise UsageError(f"{root} is not empty and holds no {SETTINGS_FILE}: choose a new folder")
    try:
        previous = json.loads(existing.read_text())
    except (OSError, ValueError) as err:
        raise UsageError(f"{existing} is unreadable ({err}): choose a new folder") from None
    if previous != settings:
        changed = sorted(k for k in settings.keys() | previous.keys()
                         if settings.get(k) != previous.get(k))  # fmt: skip
        raise UsageError(
            f"{root} holds a dataset made with other settings ({', '.join(changed)} differ): "
            "rerun with the same settings to resume it, or choose a new folder"
        )


def make_robot_dataset(
    out_dir: str | os.PathLike,
    task: str = "push",
    episodes: int = 100,
    steps: int = 50,
    val_fraction: float = 0.1,
    seed: int = 0,
    size: int = 64,
    fps: float = 4.0,
    progress: bool = False,
) -> RobotDataset:
    """Write ``episodes`` exploration episodes of ``steps`` steps under ``out_dir`` (see the
    module docstring); resumes an interrupted run of the same settings."""
    if episodes < 1 or steps < 1:
        raise UsageError(f"need at least one episode of one step, got {episodes} x {steps}")
    if not 0 <= val_fraction < 1:
        raise UsageError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    if size % 2:
        raise UsageError(f"frame size must be even (H.264 4:2:0), got {size}")
    env = RobotWorld(task, size=size)
    root = Path(out_dir)
    settings = {"format": FORMAT, "task": task, "episodes": episodes, "steps": steps,
                "val_fraction": val_fraction, "seed": seed, "size": size, "fps": fps,
                "world": asdict(env.config)}  # fmt: skip
    settings = json.loads(json.dumps(settings))  # tuples as lists, as they read back
    _check_folder(root, settings)
    root.mkdir(parents=True, exist_ok=True)
    (root / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n")
    first_val = episodes - validation_count(episodes, val_fraction)
    names: dict[str, list[str]] = {"train": [], "val": []}
    written = 0
    for index in tqdm(range(episodes), desc="episodes", unit="ep", disable=not progress):
        split = "train" if index < first_val else "val"
        name = f"episode_{index:06d}"
        names[split].append(name)
        (root / split).mkdir(exist_ok=True)
        if episode_paths(root / split / name)[1].exists():
            continue
        arrays = run_episode(env, episode_rng(seed, index), steps)
        frames, states, actions = arrays.pop("frames"), arrays.pop("states"), arrays.pop("actions")
        write_episode(root / split, name, frames, states, actions, fps=fps, extras=arrays)
        written += 1
    return RobotDataset(root, names, written)
