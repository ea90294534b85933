"""Closed-loop planning in the toy robot world: how often model-predictive control reaches a goal.

Each episode resets `vjepa2.sim.RobotWorld` from its own seed (a random start and a reachable
goal), shows the policy the goal image, and runs at most ``max_steps`` steps of: look at the
current frame, choose an action, execute it. With a world model the action is the first of a CEM
plan from the current frame's encoding towards the goal image's (the original's model-predictive
control: plan, execute the first action, observe, plan again). An episode ends at its first
success (`RobotWorld.is_success`). Two baselines need no model: uniform random actions in the
planner's sampling box and the world's scripted oracle.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from vjepa2.errors import UsageError
from vjepa2.sim import RobotWorld, oracle_action
from vjepa2.video.writer import encode_video
from vjepa2.world_model import WorldModel

POLICIES = ("model", "random", "oracle")
GRIPPER_DIM = 6
VIDEO_FPS = 4.0


@dataclass(frozen=True)
class PlannerSettings:
    """The CEM knobs (defaults: the original planner's; see `vjepa2.world_model.cem`)."""

    horizon: int = 2
    samples: int = 400
    topk: int = 10
    iterations: int = 10
    momentum: float = 0.15
    maxnorm: float = 0.05
    gripper_max: float = 0.75
    gripper_std: float = 1.0
    gripper_round: float = 0.25

    def cem_options(self) -> dict[str, Any]:
        """Keyword arguments of `WorldModel.plan_from_encodings` (planned dims: its default)."""
        return dict(
            horizon=self.horizon, samples=self.samples, topk=self.topk,
            iterations=self.iterations, maxnorm=self.maxnorm, momentum_mean=self.momentum,
            momentum_std=self.momentum, momentum_mean_gripper=self.momentum,
            momentum_std_gripper=self.momentum, gripper_max=self.gripper_max,
            gripper_std=self.gripper_std, gripper_round=self.gripper_round,
        )  # fmt: skip


class Policy(Protocol):
    """Chooses actions in one episode: ``start`` once after reset, then one call per step."""

    def start(self, env: RobotWorld, seed: int) -> None: ...

    def __call__(self, env: RobotWorld, frame: np.ndarray) -> np.ndarray: ...


class OraclePolicy:
    """The world's scripted expert (`vjepa2.sim.oracle_action`): it reads the true state."""

    def start(self, env: RobotWorld, seed: int) -> None:
        pass

    def __call__(self, env: RobotWorld, frame: np.ndarray) -> np.ndarray:
        return oracle_action(env)


class RandomPolicy:
    """Uniform actions in the planner's sampling box: Δxyz in ±maxnorm, Δgripper in
    ±gripper_max, rotation 0."""

    def __init__(self, settings: PlannerSettings) -> None:
        self.settings = settings
        self.rng = np.random.default_rng()

    def start(self, env: RobotWorld, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def __call__(self, env: RobotWorld, frame: np.ndarray) -> np.ndarray:
        box, gripper = self.settings.maxnorm, self.settings.gripper_max
        action = np.zeros(7)
        action[:3] = self.rng.uniform(-box, box, 3)
        action[GRIPPER_DIM] = self.rng.uniform(-gripper, gripper)
        return action


class ModelPolicy:
    """Model-predictive control with a world model: encode the frame, plan towards the goal
    image's encoding by CEM, return the plan's first action."""

    def __init__(self, wm: WorldModel, settings: PlannerSettings) -> None:
        self.wm = wm
        self.options = settings.cem_options()
        self.device = wm.predictor.predictor_embed.weight.device
        self.generator = torch.Generator()
        self.goal_h: torch.Tensor | None = None

    def encode(self, frame: np.ndarray) -> torch.Tensor:
        """uint8 ``[H, W, 3]`` -> the frame's encoding ``[1, N, D]``."""
        pixels = self.wm.transform(torch.from_numpy(frame))  # [3, crop, crop]
        with torch.no_grad():
            return self.wm.encode_frames(pixels[None, None].to(self.device))

    def start(self, env: RobotWorld, seed: int) -> None:
        self.generator.manual_seed(seed)
        self.goal_h = self.encode(env.goal_image())

    def __call__(self, env: RobotWorld, frame: np.ndarray) -> np.ndarray:
        pose = torch.as_tensor(env.state, dtype=torch.float32, device=self.device)
        plan = self.wm.plan_from_encodings(
            self.encode(frame), self.goal_h, pose, generator=self.generator, **self.options
        )
        return plan[0].double().cpu().numpy()


@dataclass
class EpisodeResult:
    """One episode: its seed, whether and when it succeeded, its final distances (metres) and
    the policy's seconds per step."""

    seed: int
    success: bool
    steps: int
    final_distance: float
    gripper_distance: float
    object_distance: float
    seconds_per_step: float
    frames: list[np.ndarray] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        del record["frames"]
        return record


def side_by_side(frame: np.ndarray, goal: np.ndarray, gap: int = 2) -> np.ndarray:
    """``[H, W, 3]`` and the goal ``[H, W, 3]`` -> ``[H, 2W + gap, 3]``, a white gap between."""
    white = np.full((frame.shape[0], gap, 3), 255, np.uint8)
    return np.concatenate([frame, white, goal], axis=1)


def run_episode(
    env: RobotWorld, policy: Policy, seed: int, max_steps: int, keep_frames: bool = False
) -> EpisodeResult:
    """Reset ``env`` from ``seed`` and act with ``policy`` until success or ``max_steps``."""
    frame, _ = env.reset(seed=seed)
    goal = env.goal_image()
    frames = [side_by_side(frame, goal)] if keep_frames else []
    policy.start(env, seed)
    seconds, steps = 0.0, 0
    while steps < max_steps and not env.is_success():
        began = time.perf_counter()
        action = policy(env, frame)
        seconds += time.perf_counter() - began
        frame, *_ = env.step(action)
        steps += 1
        if keep_frames:
            frames.append(side_by_side(frame, goal))
    distance = env.goal_distance()
    return EpisodeResult(
        seed=seed, success=env.is_success(), steps=steps,
        final_distance=distance.gripper if env.task == "reach" else distance.object,
        gripper_distance=distance.gripper, object_distance=distance.object,
        seconds_per_step=seconds / max(steps, 1), frames=frames,
    )  # fmt: skip


@dataclass
class PlanEvalSummary:
    """The evaluation: per-episode results and their means (success rate in [0, 1], mean final
    distance in metres: the gripper's for reach, the object's for push)."""

    task: str
    policy: str
    settings: PlannerSettings
    max_steps: int
    results: list[EpisodeResult]

    @property
    def success_rate(self) -> float:
        return float(np.mean([r.success for r in self.results]))

    @property
    def mean_final_distance(self) -> float:
        return float(np.mean([r.final_distance for r in self.results]))

    @property
    def seconds_per_step(self) -> float:
        """Mean seconds the policy took per step, over every step of every episode."""
        steps = sum(r.steps for r in self.results)
        return sum(r.seconds_per_step * r.steps for r in self.results) / max(steps, 1)

    def to_dict(self) -> dict[str, Any]:
        successes = [r.steps for r in self.results if r.success]
        return {
            "task": self.task,
            "policy": self.policy,
            "episodes": len(self.results),
            "max_steps": self.max_steps,
            "success_rate": self.success_rate,
            "mean_final_distance": self.mean_final_distance,
            "seconds_per_step": self.seconds_per_step,
            "mean_steps_to_success": float(np.mean(successes)) if successes else None,
            "planner": asdict(self.settings) if self.policy == "model" else None,
            "results": [r.to_dict() for r in self.results],
        }


def make_policy(policy: str, settings: PlannerSettings, wm: WorldModel | None = None) -> Policy:
    """The policy called ``policy`` (one of `POLICIES`); "model" needs ``wm``."""
    if policy == "oracle":
        return OraclePolicy()
    if policy == "random":
        return RandomPolicy(settings)
    if policy != "model":
        raise UsageError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    if wm is None:
        raise UsageError("the model policy needs a world model (--model)")
    if wm.config.predictor.action_dim != 7 or wm.config.predictor.state_dim != 7:
        raise UsageError(
            "the robot world has 7-D actions and states; the world model has "
            f"{wm.config.predictor.action_dim}-D actions and {wm.config.predictor.state_dim}-D "
            "states"
        )
    return ModelPolicy(wm, settings)


def evaluate_planning(
    task: str = "reach",
    policy: str = "model",
    wm: WorldModel | None = None,
    *,
    episodes: int = 20,
    max_steps: int = 30,
    seed: int = 0,
    size: int = 64,
    settings: PlannerSettings | None = None,
    keep_frames_of: int | None = None,
    progress: Any = None,
) -> PlanEvalSummary:
    """Run ``episodes`` closed-loop episodes; episode i is reset (and its policy seeded) from
    ``seed + i``. ``keep_frames_of``: the index of an episode whose frames (each beside the
    goal) are kept in its result. ``progress``: called with each `EpisodeResult`."""
    if episodes < 1 or max_steps < 1:
        raise UsageError(f"need episodes >= 1 and max steps >= 1, got {episodes} and {max_steps}")
    settings = settings or PlannerSettings()
    chosen = make_policy(policy, settings, wm)
    env = RobotWorld(task=task, size=size)
    results = []
    for i in range(episodes):
        result = run_episode(env, chosen, seed + i, max_steps, keep_frames=i == keep_frames_of)
        results.append(result)
        if progress is not None:
            progress(result)
    return PlanEvalSummary(task, policy, settings, max_steps, results)


def write_episode_video(
    path: str | Path, frames: list[np.ndarray], scale: int = 3, fps: float = VIDEO_FPS
) -> Path:
    """Write an episode's frames (each beside the goal, uint8 ``[H, W, 3]``) enlarged ``scale``
    times: an animated GIF for a ``.gif`` path, H.264 MP4 otherwise."""
    video = np.stack(frames).repeat(scale, axis=1).repeat(scale, axis=2)
    if Path(path).suffix.lower() == ".gif":
        return encode_video(path, video, fps=fps, codec="gif", pix_fmt="rgb8")
    return encode_video(path, video, fps=fps)
