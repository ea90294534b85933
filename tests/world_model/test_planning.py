"""Planning: CEM's defaults and knobs, batched rollouts, determinism, and a toy energy."""

import pytest
import torch

from tests.world_model.conftest import random_world_model
from vjepa2.world_model import WorldModel, cem

TARGET = torch.tensor([0.03, -0.02, 0.04, 0.0, 0.0, 0.0, 0.5])


class ToyWorldModel(WorldModel):
    """A world model whose energy is the distance of the summed actions to ``TARGET``."""

    def energy(self, start_h, goal_h, candidates, start_pose, **kwargs):
        return (candidates.sum(1) - TARGET).square().sum(-1)


@pytest.fixture(scope="module")
def wm():
    return random_world_model()


@pytest.fixture(scope="module")
def frames():
    return torch.randn(3, 64, 64), torch.randn(3, 64, 64)


def test_plan_shape_bounds_and_determinism(wm, frames):
    start, goal = frames
    pose = torch.tensor([0.5, 0.0, 0.3, 3.0, 0.1, -1.0, 0.5])
    plan = wm.plan(start, goal, pose, seed=3, samples=40, iterations=3)
    assert plan.shape == (2, 7)
    assert (plan[:, :3].abs() <= 0.05 + 1e-7).all()  # maxnorm
    assert torch.equal(plan[:, 3:6], torch.zeros(2, 3))  # rotation fixed, as the original
    gripper = plan[:, 6].abs()
    assert ((gripper == 0) | ((gripper >= 0.25) & (gripper <= 0.75))).all()
    assert torch.equal(plan, wm.plan(start, goal, pose, seed=3, samples=40, iterations=3))
    generator = torch.Generator().manual_seed(3)
    assert torch.equal(plan, wm.plan(start, goal, pose, generator=generator, samples=40,
                                     iterations=3))  # fmt: skip
    assert not torch.equal(plan, wm.plan(start, goal, pose, seed=4, samples=40, iterations=3))


def test_one_batched_predictor_call_per_step(wm, frames):
    calls = []
    hook = wm.predictor.register_forward_hook(lambda m, args, out: calls.append(args[0].shape))
    try:
        wm.plan(*frames, torch.zeros(7), seed=0, horizon=3, samples=24, topk=4, iterations=2)
    finally:
        hook.remove()
    n = wm.tokens_per_frame
    assert calls == [torch.Size([24, (step + 1) * n, 96]) for step in range(3)] * 2


def test_planned_dims_and_knobs(wm, frames):
    pose = torch.zeros(7)
    every = wm.plan(*frames, pose, seed=0, samples=30, iterations=2, planned_dims=range(7),
                    gripper_dim=None, maxnorm=0.02)  # fmt: skip
    assert (every.abs() <= 0.02 + 1e-7).all() and (every[:, 3:6] != 0).all()
    x_only = wm.plan(*frames, pose, seed=0, samples=30, iterations=2, planned_dims=[0],
                     gripper_dim=None, fixed={6: 1.0}, horizon=4)  # fmt: skip
    assert x_only.shape == (4, 7)
    assert torch.equal(x_only[:, 1:6], torch.zeros(4, 5)) and (x_only[:, 6] == 1).all()
    with pytest.raises(ValueError, match="topk"):
        wm.plan(*frames, pose, samples=5, topk=10)
    with pytest.raises(ValueError, match="gripper_dim 6 is not among"):
        wm.plan(*frames, pose, planned_dims=[0, 1])


def test_plan_finds_lower_energy_than_the_zero_action(frames):
    toy = ToyWorldModel(random_world_model().config)
    plan = toy.plan(*frames, torch.zeros(7), seed=0)
    zero = toy.energy(None, None, torch.zeros(1, 2, 7), None)
    found = toy.energy(None, None, plan[None], None)
    assert found < 0.5 * zero
    assert torch.allclose(plan.sum(0)[:3], TARGET[:3], atol=0.01)


def test_cem_on_a_toy_energy_with_other_action_dims():
    target = torch.tensor([0.02, -0.03])

    def energy(candidates):
        return (candidates - target).abs().sum((1, 2))

    plan = cem(energy, 3, 2, generator=torch.Generator().manual_seed(0))
    assert plan.shape == (3, 2)
    assert energy(plan[None]) < 0.2 * energy(torch.zeros(1, 3, 2))


def test_navigation_world_model_plans_with_additive_poses(frames):
    nav = random_world_model(action_dim=2, state_dim=2)
    plan = nav.plan(*frames, torch.zeros(2), seed=0, samples=20, topk=3, iterations=2)
    assert plan.shape == (2, 2) and (plan.abs() <= 0.05 + 1e-7).all()
    odd = random_world_model(action_dim=2, state_dim=3)
    with pytest.raises(ValueError, match="pose_fn"):
        odd.plan(*frames, torch.zeros(3), seed=0, samples=4, topk=2, iterations=1)
    plan = odd.plan(*frames, torch.zeros(3), seed=0, samples=4, topk=2, iterations=1,
                    pose_fn=lambda pose, action: pose)  # fmt: skip
    assert plan.shape == (2, 2)


def test_energy_checks_its_inputs(wm):
    n = wm.tokens_per_frame
    h = torch.randn(2 * n, 96)
    with pytest.raises(ValueError, match="one frame"):
        wm.energy(h, h[:n], torch.zeros(4, 2, 7), torch.zeros(7))
    with pytest.raises(ValueError, match=r"\[K, H, A\]"):
        wm.energy(h[:n], h[:n], torch.zeros(2, 7), torch.zeros(7))
