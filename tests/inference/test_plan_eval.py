"""vjepa2 plan-eval: closed-loop planning in the toy robot world (tiny random world model)."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

import vjepa2
from tests.world_model.conftest import random_world_model
from vjepa2.cli import app
from vjepa2.errors import UsageError
from vjepa2.inference.plan_eval import PlannerSettings, evaluate_planning, make_policy
from vjepa2.video import read_video

runner = CliRunner()
SMALL_CEM = PlannerSettings(samples=8, topk=2, iterations=2)


@pytest.fixture(scope="module")
def wm():
    torch.manual_seed(0)
    return random_world_model()


@pytest.fixture(scope="module")
def wm_dir(wm, tmp_path_factory):
    directory = tmp_path_factory.mktemp("wm")
    vjepa2.save(wm, directory)
    return directory


def _plan_eval(*args: str):
    return runner.invoke(app, ["plan-eval", *args], catch_exceptions=False)


def test_cli_model_loop_reports_every_field(wm_dir):
    result = _plan_eval(
        "--model", str(wm_dir), "--episodes", "2", "--max-steps", "3", "--samples", "8",
        "--top-k", "2", "--iterations", "2", "--seed", "5", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    fields = {"task", "policy", "episodes", "max_steps", "success_rate", "mean_final_distance",
              "seconds_per_step", "mean_steps_to_success", "planner", "results",
              "video"}  # fmt: skip
    assert set(record) == fields
    assert record["policy"] == "model" and record["episodes"] == 2
    assert record["planner"]["samples"] == 8 and record["planner"]["horizon"] == 2
    assert [r["seed"] for r in record["results"]] == [5, 6]
    for episode in record["results"]:
        assert 1 <= episode["steps"] <= 3
        assert episode["seconds_per_step"] > 0
        assert episode["final_distance"] == episode["gripper_distance"] >= 0


def test_oracle_reaches_and_random_does_not():
    oracle = evaluate_planning("reach", "oracle", episodes=10, max_steps=30, seed=100)
    assert oracle.success_rate >= 0.9
    assert oracle.mean_final_distance <= 0.05
    push = evaluate_planning("push", "oracle", episodes=5, max_steps=40, seed=100)
    assert push.success_rate >= 0.8
    random = evaluate_planning("reach", "random", episodes=20, max_steps=30, seed=100)
    assert random.success_rate <= 0.3
    assert random.mean_final_distance > 2 * oracle.mean_final_distance


def test_same_seed_same_episodes(wm):
    def run(seed: int) -> list[dict]:
        summary = evaluate_planning(
            "reach", "model", wm, episodes=2, max_steps=3, seed=seed, settings=SMALL_CEM
        )
        return [{k: v for k, v in r.to_dict().items() if k != "seconds_per_step"}
                for r in summary.results]  # fmt: skip

    first = run(3)
    assert run(3) == first
    assert run(4) != first
    random = [evaluate_planning("reach", "random", episodes=3, max_steps=5, seed=3)
              for _ in range(2)]  # fmt: skip
    assert [r.final_distance for r in random[0].results] == [
        r.final_distance for r in random[1].results
    ]


@pytest.mark.parametrize(("suffix", "noise"), [(".mp4", 2), (".gif", 25)])
def test_video_shows_the_episode_beside_the_goal(tmp_path, suffix, noise):
    """The GIF's palette is 3-3-2 bit RGB, dithered: a still picture changes by ~20 levels."""
    path = tmp_path / f"episode{suffix}"
    result = _plan_eval("--policy", "oracle", "--episodes", "2", "--video", str(path), "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    frames, _ = read_video(path)
    assert frames.shape[0] == record["results"][0]["steps"] + 1
    assert frames.shape[1:] == (3 * 64, 3 * (2 * 64 + 2), 3)
    # The right half is the goal image: the same in the first and the last frame.
    goal = frames[:, :, 3 * 66 :].float()
    assert (goal[0] - goal[-1]).abs().mean() < noise
    moved = frames[0, :, : 3 * 64].float() - frames[-1, :, : 3 * 64].float()
    assert moved.abs().mean() > (goal[0] - goal[-1]).abs().mean() + 0.5


def test_bad_requests_are_usage_errors(wm):
    with pytest.raises(UsageError, match="world model"):
        make_policy("model", SMALL_CEM)
    with pytest.raises(UsageError, match="unknown policy"):
        make_policy("greedy", SMALL_CEM)
    with pytest.raises(UsageError, match="7-D"):
        make_policy("model", SMALL_CEM, random_world_model(action_dim=2, state_dim=2))
    with pytest.raises(UsageError, match="episodes"):
        evaluate_planning("reach", "oracle", episodes=0)
    assert _plan_eval("--policy", "greedy").exit_code == 2
    assert _plan_eval("--policy", "model", "--episodes", "1").exit_code == 2
    assert _plan_eval("--policy", "oracle", "--task", "fly").exit_code == 2
