"""Pose propagation and actions from poses (xyz, xyz Euler angles, gripper)."""

import math

import pytest
import torch

from vjepa2.world_model import poses_to_actions, propagate_pose
from vjepa2.world_model.pose import euler_to_matrix, matrix_to_euler


def random_poses(n):
    xyz = torch.randn(n, 3, dtype=torch.float64)
    roll, yaw = ((torch.rand(n, 1, dtype=torch.float64) * 2 - 1) * 3.1 for _ in range(2))
    pitch = (torch.rand(n, 1, dtype=torch.float64) * 2 - 1) * 1.5
    gripper = torch.rand(n, 1, dtype=torch.float64) * 0.8 + 0.1
    return torch.cat([xyz, roll, pitch, yaw, gripper], dim=-1)


def test_euler_convention():
    # Extrinsic xyz: R = Rz(yaw) Ry(pitch) Rx(roll); a quarter turn about z sends x to y.
    r = euler_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2], dtype=torch.float64))
    assert torch.allclose(r @ torch.tensor([1.0, 0, 0], dtype=torch.float64),
                          torch.tensor([0.0, 1, 0], dtype=torch.float64), atol=1e-12)  # fmt: skip
    rx = euler_to_matrix(torch.tensor([0.3, 0, 0], dtype=torch.float64))
    rz = euler_to_matrix(torch.tensor([0, 0, 0.7], dtype=torch.float64))
    both = euler_to_matrix(torch.tensor([0.3, 0, 0.7], dtype=torch.float64))
    assert torch.allclose(both, rz @ rx, atol=1e-12)


def test_euler_round_trip_and_rotation_matrices():
    angles = random_poses(200)[:, 3:6]
    r = euler_to_matrix(angles)
    eye = torch.eye(3, dtype=torch.float64).expand(200, 3, 3)
    assert torch.allclose(r @ r.transpose(-1, -2), eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(r), torch.ones(200, dtype=torch.float64))
    assert torch.allclose(matrix_to_euler(r), angles, atol=1e-10)


def test_actions_from_poses_invert_propagation():
    poses = random_poses(50).view(10, 5, 7)
    actions = poses_to_actions(poses)
    assert actions.shape == (10, 4, 7)
    again = propagate_pose(poses[:, :-1], actions)
    assert torch.allclose(again, poses[:, 1:], atol=1e-10)


def test_gripper_is_clipped_and_shapes_broadcast():
    pose = torch.tensor([0, 0, 0, 0, 0, 0, 0.9])
    delta = torch.tensor([[0.1, 0, 0, 0, 0, 0, 0.5], [0, 0, 0, 0, 0, 0, -2.0]])
    out = propagate_pose(pose, delta)
    assert out.shape == (2, 7) and out.dtype == torch.float32
    assert out[0, 6] == 1.0 and out[1, 6] == 0.0 and out[0, 0] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="7 values"):
        propagate_pose(torch.zeros(6), torch.zeros(6))
