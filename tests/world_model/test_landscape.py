"""The energy landscape: the notebook's grid of one-step moves, its minimum, and its PNG."""

import sys

import pytest
import torch

from tests.world_model.conftest import random_world_model
from vjepa2.world_model import EnergyLandscape, WorldModel, draw_landscape, energy_landscape
from vjepa2.world_model.landscape import grid_actions

TARGET = torch.tensor([0.0375, -0.075, 0.0375])  # a point of the default grid


class ToyWorldModel(WorldModel):
    """Energy: squared distance of the first move's xyz (dims ``XYZ``) to ``TARGET``."""

    xyz = (0, 1, 2)

    def energy(self, start_h, goal_h, candidates, start_pose, **kwargs):
        return (candidates[:, 0, list(self.xyz)] - TARGET).square().sum(-1)


@pytest.fixture(scope="module")
def wm():
    return random_world_model()


def test_the_minimum_is_where_the_toy_energy_has_it(wm):
    toy = ToyWorldModel(wm.config)
    grid = energy_landscape(toy, None, None, torch.zeros(7))
    assert grid.energy.shape == (5, 5, 5)
    assert torch.allclose(grid.dx, torch.tensor([-0.075, -0.0375, 0.0, 0.0375, 0.075]))
    assert grid.minimum() == pytest.approx(TARGET.tolist(), abs=1e-6)
    k, j, i = 3, 0, 3  # energy[z, y, x] of the target
    assert grid.energy[k, j, i] == 0 and (grid.energy.flatten().sort().values[1:] > 0).all()
    record = grid.to_dict()
    assert record["minimum"]["energy"] == 0 and len(record["energy"][0][0]) == 5


def test_slices_points_and_other_action_dims():
    toy = ToyWorldModel(random_world_model(action_dim=4, state_dim=4).config)
    toy.xyz = (3, 1, 0)
    grid = energy_landscape(toy, None, None, torch.zeros(4), points=9, extent=0.075,
                            dz=[0.0375, 0.0], xyz_dims=(3, 1, 0))  # fmt: skip
    assert grid.energy.shape == (2, 9, 9)
    assert grid.minimum() == pytest.approx(TARGET.tolist(), abs=1e-6)
    with pytest.raises(ValueError, match="distinct"):
        energy_landscape(toy, None, None, torch.zeros(4), xyz_dims=(0, 0, 1))
    with pytest.raises(ValueError, match="not dims of the 4-D action"):
        energy_landscape(toy, None, None, torch.zeros(4), xyz_dims=(0, 1, 4))
    with pytest.raises(ValueError, match="points"):
        energy_landscape(toy, None, None, torch.zeros(4), points=1)


def test_grid_order_matches_the_energy_layout():
    axis = torch.tensor([-1.0, 0.0, 1.0])
    actions = grid_actions(axis, axis * 2, torch.tensor([5.0, 6.0]), 7, (0, 1, 2))
    assert actions.shape == (18, 1, 7)
    cube = actions.view(2, 3, 3, 7)  # [Z, Y, X, A]
    assert torch.equal(cube[1, 2, 0, :3], torch.tensor([-1.0, 2.0, 6.0]))
    assert (cube[..., 3:] == 0).all()


def test_real_energies_one_batched_call_or_in_chunks(wm):
    start, goal = torch.randn(2, wm.tokens_per_frame, 96).unbind(0)
    pose = torch.tensor([0.5, 0.0, 0.3, 3.0, 0.1, -1.0, 0.5])
    grid = energy_landscape(wm, start, goal, pose, points=3, dz=[0.02])
    chunked = energy_landscape(wm, start, goal, pose, points=3, dz=[0.02], batch_size=4)
    assert torch.allclose(grid.energy, chunked.energy, atol=1e-6)
    move = torch.tensor([[[0.075, -0.075, 0.02, 0.0, 0.0, 0.0, 0.0]]])
    with torch.no_grad():
        assert torch.allclose(grid.energy[0, 0, 2], wm.energy(start, goal, move, pose)[0])


def test_png_and_a_clear_error_without_matplotlib(tmp_path, monkeypatch):
    axis = torch.linspace(-0.075, 0.075, 5)
    grid = EnergyLandscape(axis, axis, axis[:2], torch.rand(2, 5, 5))
    path = draw_landscape(grid, tmp_path / "energy.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install vjepa2\[train\]"):
        draw_landscape(grid, tmp_path / "again.png")
    assert not (tmp_path / "again.png").exists()
