"""The trajectory format: pose math on known rotations, write/read round trips, typed errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vjepa2.data.trajectories import (
    TrajectoryError,
    actions_from_states,
    list_episodes,
    propagate_states,
    read_episode,
    write_episode,
)
from vjepa2.errors import UsageError
from vjepa2.sim.pose import euler_to_matrix, matrix_to_euler, propagate_pose


def rot_x(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_euler_is_extrinsic_xyz():
    """euler (a, b, c) = Rz(c) @ Ry(b) @ Rx(a): SciPy's from_euler("xyz")."""
    a, b, c = 0.3, -0.5, 1.2
    np.testing.assert_allclose(euler_to_matrix([a, b, c]), rot_z(c) @ rot_y(b) @ rot_x(a))
    np.testing.assert_allclose(euler_to_matrix([0, 0, math.pi / 2]) @ [1, 0, 0], [0, 1, 0],
                               atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(matrix_to_euler(rot_z(c) @ rot_y(b) @ rot_x(a)), [a, b, c])


def test_euler_round_trip_random_and_gimbal_lock():
    rng = np.random.default_rng(0)
    angles = rng.uniform([-math.pi, -math.pi / 2, -math.pi], [math.pi, math.pi / 2, math.pi],
                         size=(200, 3))  # fmt: skip
    np.testing.assert_allclose(matrix_to_euler(euler_to_matrix(angles)), angles, atol=1e-9)
    locked = euler_to_matrix([[0.4, math.pi / 2, 0.1], [0.4, -math.pi / 2, 0.1]])
    np.testing.assert_allclose(euler_to_matrix(matrix_to_euler(locked)), locked, atol=1e-9)


def test_derived_rotation_of_known_rotations():
    """A yaw of 0.2 then a roll of 0.3 applied on top: the deltas are exactly those rotations."""
    r0 = rot_z(0.5)
    r1 = rot_z(0.2) @ r0
    r2 = rot_x(0.3) @ r1
    states = np.zeros((3, 7))
    states[:, 3:6] = matrix_to_euler(np.stack([r0, r1, r2]))
    states[:, :3] = [[0, 0, 0], [0.01, -0.02, 0.03], [0.01, -0.02, 0.03]]
    states[:, 6] = [0.0, 0.5, 1.0]
    actions = actions_from_states(states)
    np.testing.assert_allclose(actions[0], [0.01, -0.02, 0.03, 0, 0, 0.2, 0.5], atol=1e-6)
    np.testing.assert_allclose(actions[1], [0, 0, 0, 0.3, 0, 0, 0.5], atol=1e-6)


def test_derived_actions_propagate_back_to_the_states():
    rng = np.random.default_rng(1)
    start = np.array([0.1, -0.1, 0.05, 0.2, -0.3, 2.9, 0.5])
    commanded = np.concatenate([rng.normal(0, 0.03, (20, 3)), rng.normal(0, 0.2, (20, 3)),
                                rng.normal(0, 0.3, (20, 1))], axis=1)  # fmt: skip
    states = propagate_states(start, commanded).astype(np.float32)
    derived = actions_from_states(states)
    assert derived.shape == (20, 7) and derived.dtype == np.float32
    np.testing.assert_allclose(propagate_states(states[0], derived), states, atol=2e-5)
    # The gripper is clipped to [0, 1]; away from the clip the derived action equals the command.
    assert np.all((states[:, 6] >= 0) & (states[:, 6] <= 1))
    np.testing.assert_allclose(derived[:, 3:6], commanded[:, 3:6], atol=1e-5)


def test_other_state_sizes_use_differences():
    states = np.cumsum(np.ones((5, 2)), axis=0)
    np.testing.assert_array_equal(actions_from_states(states), np.ones((4, 2)))
    np.testing.assert_array_equal(propagate_states(states[0], np.ones((4, 2))), states)


def test_propagate_pose_broadcasts():
    poses = propagate_pose(np.zeros(7), np.tile([0.1, 0, 0, 0, 0, 0.1, 2.0], (4, 1)))
    assert poses.shape == (4, 7)
    np.testing.assert_allclose(poses[0], [0.1, 0, 0, 0, 0, 0.1, 1.0])


def _frames(t=5, size=16):
    return np.random.default_rng(0).integers(0, 255, (t, size, size, 3), dtype=np.uint8)


def test_write_read_round_trip(tmp_path):
    states = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32)
    actions = np.ones((4, 7), np.float32)
    path = write_episode(tmp_path / "train", "ep0", _frames(), states, actions, fps=4.0,
                         extras={"object_positions": np.zeros((5, 2), np.float32)})  # fmt: skip
    episode = read_episode(path)
    assert episode.frames_path == tmp_path / "train" / "ep0.mp4" and episode.name == "ep0"
    np.testing.assert_array_equal(episode.states, states)
    np.testing.assert_array_equal(episode.actions, actions)
    assert episode.fps == 4.0 and not episode.actions_derived and episode.num_frames == 5
    assert read_episode(tmp_path / "train" / "ep0").states.shape == (5, 7)
    assert read_episode(episode.frames_path).fps == 4.0
    assert list_episodes(tmp_path, "train") == [path]


def test_missing_actions_are_derived(tmp_path):
    states = propagate_states(np.zeros(7), np.full((4, 7), 0.05)).astype(np.float32)
    episode = read_episode(write_episode(tmp_path, "ep", _frames(), states))
    assert episode.actions_derived
    np.testing.assert_allclose(episode.actions, actions_from_states(states))
    np.testing.assert_allclose(episode.actions[:, :6], 0.05, atol=1e-6)


def _write_npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"fps": 4.0}, "no 'states'"),
        ({"states": np.zeros((1, 7)), "fps": 4.0}, "T >= 2"),
        ({"states": np.zeros((5, 7)), "actions": np.zeros((5, 7)), "fps": 4.0}, "T-1 = 4"),
        ({"states": np.full((5, 7), np.nan), "fps": 4.0}, "NaN"),
        ({"states": np.zeros((5, 7))}, "'fps'"),
        ({"states": np.zeros((5, 7)), "fps": -1.0}, "'fps'"),
        ({"states": np.zeros((3, 7)), "fps": 4.0}, "3 states for 5 video frames"),
    ],
)
def test_bad_episodes_raise_a_typed_error_naming_the_file(tmp_path, arrays, message):
    write_episode(tmp_path, "ep", _frames(), np.zeros((5, 7)))
    data = _write_npz(tmp_path / "ep.npz", **arrays)
    with pytest.raises(TrajectoryError, match=message) as caught:
        read_episode(data)
    assert str(data) in str(caught.value) and isinstance(caught.value, UsageError)


def test_missing_or_broken_files(tmp_path):
    with pytest.raises(TrajectoryError, match="file not found"):
        read_episode(tmp_path / "nothing.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(TrajectoryError, match=r"junk\.npz.*not a readable"):
        read_episode(tmp_path / "junk.npz")
    _write_npz(tmp_path / "alone.npz", states=np.zeros((5, 7)), fps=4.0)
    with pytest.raises(TrajectoryError, match=r"alone\.mp4.*video file not found"):
        read_episode(tmp_path / "alone.npz")
    (tmp_path / "alone.mp4").write_text("not a video")
    with pytest.raises(TrajectoryError, match=r"alone\.mp4"):
        read_episode(tmp_path / "alone.npz")
    with pytest.raises(TrajectoryError, match="no 'val' folder"):
        list_episodes(tmp_path, "val")


def test_write_refuses_a_state_per_frame_mismatch(tmp_path):
    with pytest.raises(TrajectoryError, match="4 states for 5 video frames"):
        write_episode(tmp_path, "ep", _frames(), np.zeros((4, 7)))
    assert not list(tmp_path.iterdir())
