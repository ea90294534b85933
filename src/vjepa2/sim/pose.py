"""7-D end-effector poses in the DROID convention (numpy): ``[x, y, z, roll, pitch, yaw, gripper]``.

Rotations are extrinsic xyz Euler angles (SciPy's ``"xyz"``: ``R = Rz(yaw) @ Ry(pitch) @
Rx(roll)``), the gripper is in [0, 1]. An action ``[Δxyz, ΔEuler, Δgripper]`` moves a pose as the
original V-JEPA 2-AC planner integrates it (`propagate_pose`): xyz added, ``R_Δ @ R``, gripper
added and clipped. The toy world steps with it and the trajectory format derives actions with it
(`vjepa2.data.trajectories`); `vjepa2.world_model.pose` is the torch twin the planner runs.
"""

from __future__ import annotations

import numpy as np

POSE_DIM = 7


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """Extrinsic xyz Euler angles ``[..., 3]`` -> rotation matrices ``[..., 3, 3]`` (float64)."""
    angles = np.asarray(angles, dtype=np.float64)
    ca, cb, cc = np.moveaxis(np.cos(angles), -1, 0)
    sa, sb, sc = np.moveaxis(np.sin(angles), -1, 0)
    rows = [
        [cb * cc, sa * sb * cc - ca * sc, ca * sb * cc + sa * sc],
        [cb * sc, sa * sb * sc + ca * cc, ca * sb * sc - sa * cc],
        [-sb, sa * cb, ca * cb],
    ]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def matrix_to_euler(matrix: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` -> extrinsic xyz Euler angles ``[..., 3]`` (float64).

    Roll and yaw in (-pi, pi], pitch in [-pi/2, pi/2], as SciPy's ``as_euler("xyz")``.
    """
    m = np.asarray(matrix, dtype=np.float64)
    roll = np.arctan2(m[..., 2, 1], m[..., 2, 2])
    pitch = np.arctan2(-m[..., 2, 0], np.hypot(m[..., 0, 0], m[..., 1, 0]))
    yaw = np.arctan2(m[..., 1, 0], m[..., 0, 0])
    return np.stack([roll, pitch, yaw], axis=-1)


def propagate_pose(pose: np.ndarray, action: np.ndarray) -> np.ndarray:
    """The 7-D pose after a 7-D action: xyz added, ``R_Δ @ R``, gripper added and clipped.

    pose, action: ``[..., 7]`` (broadcast) -> float64 ``[..., 7]``.
    """
    pose = np.asarray(pose, dtype=np.float64)
    action = np.asarray(action, dtype=np.float64)
    rotation = euler_to_matrix(action[..., 3:6]) @ euler_to_matrix(pose[..., 3:6])
    xyz = pose[..., :3] + action[..., :3]
    gripper = np.clip(pose[..., 6:] + action[..., 6:], 0.0, 1.0)
    batch = np.broadcast_shapes(pose.shape[:-1], action.shape[:-1])
    parts = [xyz, matrix_to_euler(rotation), gripper]
    return np.concatenate([np.broadcast_to(p, (*batch, p.shape[-1])) for p in parts], axis=-1)
