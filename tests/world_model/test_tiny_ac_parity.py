"""Every tensor of ../shared/fixtures/original/tiny_ac/case.pt (Meta's V-JEPA 2-AC code), reproduced
by the world-model API."""

import pytest
import torch

import vjepa2
from tests.world_model.conftest import tiny_ac_config
from vjepa2.world_model import WorldModel, load_world_model, propagate_pose

TOL = 1e-5


@pytest.fixture(scope="module")
def wm(tiny_ac_case, tiny_ac_pt):
    cfg = tiny_ac_case["cfg"]
    config = tiny_ac_config(
        hidden_size=cfg["ac_dim"], num_hidden_layers=cfg["ac_depth"],
        num_attention_heads=cfg["ac_heads"],
    )  # fmt: skip
    assert config.encoder.hidden_size == cfg["dim"]
    assert config.encoder.num_attention_heads == cfg["heads"]
    assert config.encoder.crop_size == cfg["img"]
    wm = vjepa2.load(tiny_ac_pt, config=config)  # the one entry point tells the family apart
    assert isinstance(wm, WorldModel)
    return wm


def max_err(a, b):
    assert a.shape == b.shape
    return (a.double() - b.double()).abs().max().item()


def test_encode_frames(wm, tiny_ac_case):
    video = tiny_ac_case["clips_bcthw"].transpose(1, 2)  # [B, C, T, H, W] -> [B, T, C, H, W]
    h = wm.encode_frames(video)
    assert max_err(h, tiny_ac_case["encoded"]) <= TOL
    assert max_err(wm.encode_frames(video, batch_size=3), tiny_ac_case["encoded"]) <= TOL


@torch.no_grad()
def test_predictor_raw_output(wm, tiny_ac_case):
    c = tiny_ac_case
    z = wm.predictor(c["encoded"][:, :48], c["actions"][:, :3], c["states"][:, :3])
    assert max_err(z, c["ac_out"]) <= TOL


@torch.no_grad()
def test_teacher_forcing_rollout_and_losses(wm, tiny_ac_case):
    c = tiny_ac_case
    h, actions, states = c["encoded"], c["actions"], c["states"]
    assert max_err(wm.teacher_forcing(h, actions, states), c["z_tf"]) <= TOL
    steps = c["cfg"]["auto_steps"]
    assert max_err(wm.rollout(h, actions, states, steps), c["z_ar"]) <= TOL
    tf, ar = wm.losses(h, actions, states, rollout_steps=steps)
    assert abs(tf.item() - c["jloss"].item()) <= TOL
    assert abs(ar.item() - c["sloss"].item()) <= TOL


def test_pose_propagation(tiny_ac_case):
    c = tiny_ac_case
    new = propagate_pose(c["poses"].double(), c["pose_deltas"])
    assert max_err(new, c["new_poses"]) <= TOL
    assert propagate_pose(c["poses"], c["pose_deltas"]).dtype == torch.float32


@torch.no_grad()
def test_planning_energies(wm, tiny_ac_case):
    c = tiny_ac_case
    n = wm.tokens_per_frame
    start, goal = c["encoded"][0, :n], c["encoded"][0, -n:]
    energies = wm.energy(start, goal, c["plan_candidates"], c["plan_start_pose"])
    assert energies.shape == (c["plan_candidates"].size(0),)
    assert max_err(energies, c["plan_energies"]) <= TOL


def test_bfloat16_weights_run_end_to_end(tiny_ac_case, tiny_ac_pt):
    c = tiny_ac_case
    wm = load_world_model(tiny_ac_pt, config=tiny_ac_config(), dtype=torch.bfloat16)
    h = wm.encode_frames(c["clips_bcthw"].transpose(1, 2))
    assert h.dtype == torch.bfloat16 and max_err(h, c["encoded"]) < 0.1
    with torch.no_grad():
        tf, ar = wm.losses(h, c["actions"], c["states"])  # float32 actions into a bf16 model
        energies = wm.energy(c["encoded"][0, :16], c["encoded"][0, -16:], c["plan_candidates"],
                             c["plan_start_pose"])  # fmt: skip
    assert abs(tf.item() - c["jloss"].item()) < 0.02 and abs(ar.item() - c["sloss"].item()) < 0.02
    assert max_err(energies, c["plan_energies"]) < 0.01
