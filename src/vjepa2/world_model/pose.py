"""End-effector poses ``[x, y, z, roll, pitch, yaw, gripper]`` and the actions between them.

Rotations are Euler angles in the ``"xyz"`` convention of SciPy's ``Rotation.from_euler`` (rotate
about the fixed x axis, then y, then z: ``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``), as the original
planner and data loader use them. Everything is computed in float64 (as SciPy does) and returned in
the pose's dtype.
"""

from __future__ import annotations

import torch

POSE_DIM = 7


def euler_to_matrix(angles: torch.Tensor) -> torch.Tensor:
    """Extrinsic xyz Euler angles ``[..., 3]`` -> rotation matrices ``[..., 3, 3]``."""
    ca, cb, cc = angles.cos().unbind(-1)
    sa, sb, sc = angles.sin().unbind(-1)
    rows = [
        [cb * cc, sa * sb * cc - ca * sc, ca * sb * cc + sa * sc],
        [cb * sc, sa * sb * sc + ca * cc, ca * sb * sc - sa * cc],
        [-sb, sa * cb, ca * cb],
    ]
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def matrix_to_euler(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[..., 3, 3]`` -> extrinsic xyz Euler angles ``[..., 3]``.

    Roll and yaw lie in (-pi, pi], pitch in [-pi/2, pi/2] (SciPy's ranges). At pitch = ±pi/2
    (gimbal lock) only roll ± yaw is defined; the split differs from SciPy's there.
    """
    roll = torch.atan2(matrix[..., 2, 1], matrix[..., 2, 2])
    pitch = torch.atan2(-matrix[..., 2, 0], torch.hypot(matrix[..., 0, 0], matrix[..., 1, 0]))
    yaw = torch.atan2(matrix[..., 1, 0], matrix[..., 0, 0])
    return torch.stack([roll, pitch, yaw], dim=-1)


def _check(name: str, value: torch.Tensor) -> None:
    if value.shape[-1] != POSE_DIM:
        raise ValueError(
            f"{name} must end in {POSE_DIM} values (xyz, xyz Euler angles, gripper), got shape "
            f"{list(value.shape)}"
        )


def propagate_pose(pose: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """The pose after an action, as the original planner integrates it.

    xyz is added, the rotation composed as ``R_delta @ R`` and turned back into Euler angles,
    the gripper added and clipped to [0, 1].

    Args:
        pose: ``[..., 7]`` (xyz, xyz Euler angles, gripper).
        delta: ``[..., 7]`` action (Δxyz, Euler angles of the rotation, Δgripper); broadcasts
            against ``pose``.

    Returns:
        ``[..., 7]`` in ``pose``'s dtype.
    """
    _check("pose", pose)
    _check("delta", delta)
    p, d = pose.double(), delta.to(device=pose.device, dtype=torch.float64)
    rotation = euler_to_matrix(d[..., 3:6]) @ euler_to_matrix(p[..., 3:6])
    out = torch.cat(
        [
            p[..., :3] + d[..., :3],
            matrix_to_euler(rotation),
            (p[..., 6:] + d[..., 6:]).clamp(0.0, 1.0),
        ],
        dim=-1,
    )
    return out.to(pose.dtype)


def poses_to_actions(poses: torch.Tensor) -> torch.Tensor:
    """Actions between consecutive poses, as the original derives them from robot states.

    Args:
        poses: ``[..., T, 7]``.

    Returns:
        ``[..., T-1, 7]``: Δxyz, the Euler angles of ``R_{t+1} @ R_tᵀ``, Δgripper (unclipped),
        in ``poses``' dtype.
    """
    _check("poses", poses)
    p = poses.double()
    start, end = p[..., :-1, :], p[..., 1:, :]
    rotation = euler_to_matrix(end[..., 3:6]) @ euler_to_matrix(start[..., 3:6]).transpose(-1, -2)
    out = torch.cat(
        [end[..., :3] - start[..., :3], matrix_to_euler(rotation), end[..., 6:] - start[..., 6:]],
        dim=-1,
    )
    return out.to(poses.dtype)
