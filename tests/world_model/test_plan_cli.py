"""``vjepa2 plan`` on a tiny random world model saved in our format."""

import json

import pytest
import torch
from typer.testing import CliRunner

from tests.world_model.conftest import random_world_model
from vjepa2.cli import app
from vjepa2.video.writer import encode_image
from vjepa2.world_model import FrameTransform, WorldModel

runner = CliRunner()
POSE = "0.5,-0.1,0.3,3.1,0.05,-1.2,0.5"
FAST = ("--samples", "24", "--top-k", "4", "--iterations", "2")
TARGET = (0.0375, -0.075, 0.0375)  # on the default 5-point grid over ±0.075 (step 0.0375)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plan")
    wm = random_world_model()
    wm.save_pretrained(folder / "wm")
    generator = torch.Generator().manual_seed(0)
    start = torch.randint(0, 256, (48, 80, 3), dtype=torch.uint8, generator=generator)
    goal = torch.randint(0, 256, (80, 80, 3), dtype=torch.uint8, generator=generator)
    return {
        "model": folder / "wm",
        "start": encode_image(folder / "start.png", start),
        "goal": encode_image(folder / "goal.png", goal),
        "folder": folder,
    }


def invoke(files, *args, code=0):
    base = ["plan", "-m", files["model"], "--start", files["start"], "--goal", files["goal"]]
    result = runner.invoke(app, [str(a) for a in [*base, *args]])
    assert result.exit_code == code, result.output
    return result.output


def test_prints_a_plan_within_maxnorm(files):
    out = invoke(files, "--pose", POSE, *FAST, "--maxnorm", "0.02", "--json")
    record = json.loads(out)
    actions = torch.tensor(record["actions"])
    assert actions.shape == (2, 7)
    assert (actions[:, :3].abs() <= 0.02 + 1e-7).all()
    assert torch.equal(actions[:, 3:6], torch.zeros(2, 3))  # rotation fixed, as the original
    assert record["action_names"] == ["dx", "dy", "dz", "droll", "dpitch", "dyaw", "dgripper"]
    assert record["energy"] > 0 and record["zero_action_energy"] > 0
    again = json.loads(invoke(files, "--pose", POSE, *FAST, "--maxnorm", "0.02", "--json"))
    assert again["actions"] == record["actions"]  # seeded: the same plan
    table = invoke(files, "--pose", POSE, *FAST, "--horizon", "3", "--planned-dims", "0,1")
    assert "dgripper" in table and "energy: plan" in table
    rows = [line for line in table.splitlines() if line.strip().startswith(("│", "┃"))]
    assert len(rows) == 1 + 3  # the header and one row per step


def test_knobs_reach_the_planner(files):
    record = json.loads(invoke(
        files, "--pose", POSE, *FAST, "--horizon", "4", "--planned-dims", "0,1,2,3,4,5,6",
        "--maxnorm", "0.01", "--gripper-dim", "none", "--json",
    ))  # fmt: skip
    actions = torch.tensor(record["actions"])
    assert actions.shape == (4, 7) and (actions.abs() <= 0.01 + 1e-7).all()
    assert (actions[:, 3:6] != 0).all()  # rotation planned too


def test_bad_input_is_a_usage_error(files):
    assert "7 values" in invoke(files, "--pose", "0,0,0", code=2)
    assert "numbers" in invoke(files, "--pose", "a,b", code=2)
    assert "topk" in invoke(files, "--pose", POSE, "--samples", "4", code=2)
    assert "auto, none" in invoke(files, "--pose", POSE, "--gripper-dim", "x", code=2)
    png = files["folder"] / "never.png"
    assert "points" in invoke(files, "--pose", POSE, "--landscape", png, "--landscape-points",
                              "1", code=2)  # fmt: skip
    assert not png.exists()
    missing = files["folder"] / "missing.png"
    out = runner.invoke(app, ["plan", "-m", str(files["model"]), "--start", str(missing),
                              "--goal", str(files["goal"]), "--pose", POSE])  # fmt: skip
    assert out.exit_code == 2 and "--start" in out.output
    out = runner.invoke(app, ["plan", "-m", str(files["folder"]), "--start", str(files["start"]),
                              "--goal", str(files["goal"]), "--pose", POSE])  # fmt: skip
    assert out.exit_code == 2 and "vjepa2_ac" in out.output


def toy_energy(self, start_h, goal_h, candidates, start_pose, **kwargs):
    """Distance of the summed moves to ``TARGET``: the landscape's minimum must sit there."""
    target = torch.tensor([*TARGET, 0.0, 0.0, 0.0, 0.0])
    return (candidates.sum(1) - target).square().sum(-1)


def test_landscape_png_has_its_minimum_where_the_toy_energy_has_it(files, monkeypatch):
    monkeypatch.setattr(WorldModel, "energy", toy_energy)
    png = files["folder"] / "landscape.png"
    record = json.loads(invoke(files, "--pose", POSE, *FAST, "--landscape", png, "--json"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    grid = record["landscape"]
    best = grid["minimum"]
    assert (best["dx"], best["dy"], best["dz"]) == pytest.approx(TARGET, abs=1e-6)
    assert best["energy"] == pytest.approx(0.0, abs=1e-9)
    assert torch.tensor(grid["energy"]).shape == (5, 5, 5)
    assert grid["dx"] == pytest.approx([-0.075, -0.0375, 0.0, 0.0375, 0.075])


def test_frame_transform_is_the_central_square_resized():
    frame = torch.zeros(48, 80, 3, dtype=torch.uint8)
    frame[:, 16:64] = 255  # the central 48x48 square is white, the sides black
    out = FrameTransform(64)(frame)
    assert out.shape == (3, 64, 64)
    white = FrameTransform(64)(torch.full((2, 48, 48, 3), 255, dtype=torch.uint8))
    assert torch.allclose(out, white[0], atol=1e-5)
    with pytest.raises(TypeError, match="uint8"):
        FrameTransform(64)(frame.float())
