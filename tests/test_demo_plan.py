"""The bundled world model: what `vjepa2 demo --plan` runs, offline, on the CPU."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vjepa2.cli import app
from vjepa2.cli.demo import WORLD_MODEL_DIR
from vjepa2.inference.plan_eval import PlannerSettings
from vjepa2.presets import DEMO_DIR
from vjepa2.sim import TASKS
from vjepa2.world_model import load_world_model

runner = CliRunner()


def test_bundled_models_fit_the_size_budget_and_describe_how_they_plan():
    files = [*DEMO_DIR.iterdir(), *WORLD_MODEL_DIR.iterdir()]
    assert sum(p.stat().st_size for p in files) <= 25 * 2**20
    recipe = json.loads((WORLD_MODEL_DIR / "plan.json").read_text())
    PlannerSettings(**recipe["planner"])  # every knob is a planner setting
    assert set(recipe["success_rate"]) <= set(TASKS)
    assert all(0 <= rate <= 1 for rate in recipe["success_rate"].values())
    wm = load_world_model(WORLD_MODEL_DIR)
    assert wm.config.encoder.crop_size == recipe["size"]
    assert wm.config.predictor.action_dim == wm.config.predictor.state_dim == 7


def test_demo_plan_refuses_an_unknown_task(tmp_path):
    out = tmp_path / "x.gif"
    result = runner.invoke(app, ["demo", "--plan", "--task", "fly", "--out", str(out)])
    assert result.exit_code == 2 and "choose one of reach, push" in result.output
    assert not (tmp_path / "x.gif").exists()


@pytest.mark.slow
def test_demo_plan_reaches_the_goal_and_writes_its_gif(tmp_path):
    out = tmp_path / "plan.gif"
    result = runner.invoke(app, ["demo", "--plan", "--seed", "0", "--out", str(out)],
                           env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:6] == b"GIF89a"
    assert "reached the goal" in result.output  # episode 0 of the measured evaluation: reached
