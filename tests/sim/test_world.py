"""RobotWorld: the gym-style API, determinism, the push physics, bounds, rendering, goals."""

from __future__ import annotations

import numpy as np
import pytest

from vjepa2.data.trajectories import actions_from_states, propagate_states
from vjepa2.errors import UsageError
from vjepa2.sim import ExplorationPolicy, GoalDistance, RobotWorld, WorldConfig, oracle_action


def explore(env: RobotWorld, seed: int, steps: int):
    """Reset with ``seed`` and run the exploration policy: frames [T, H, W, 3], states [T, 7]."""
    frame, _ = env.reset(seed=seed)
    policy = ExplorationPolicy(env, np.random.default_rng(seed))
    frames, states = [frame], [env.state]
    for _ in range(steps):
        frames.append(env.step(policy())[0])
        states.append(env.state)
    return np.stack(frames), np.stack(states)


@pytest.mark.parametrize("task", ["reach", "push"])
def test_same_seed_same_episode(task):
    frames_a, states_a = explore(RobotWorld(task, size=32), seed=7, steps=20)
    frames_b, states_b = explore(RobotWorld(task, size=32), seed=7, steps=20)
    np.testing.assert_array_equal(frames_a, frames_b)
    np.testing.assert_array_equal(states_a, states_b)
    frames_c, _ = explore(RobotWorld(task, size=32), seed=8, steps=20)
    assert not np.array_equal(frames_a, frames_c)


def test_reset_and_step_api():
    env = RobotWorld("reach", size=48)
    obs, info = env.reset(seed=0)
    assert obs.shape == (48, 48, 3) and obs.dtype == np.uint8
    assert env.state.shape == (7,) and env.object_position.shape == (2,)
    assert {"state", "object_position", "goal_state", "goal_object", "distance", "success"} <= set(
        info
    )
    np.testing.assert_array_equal(env.render_state(env.state, env.object_position), obs)
    np.testing.assert_array_equal(env.render(), obs)
    obs, reward, terminated, truncated, info = env.step(np.zeros(7))
    assert obs.shape == (48, 48, 3) and isinstance(reward, float)
    assert isinstance(terminated, bool) and isinstance(truncated, bool)
    assert reward == pytest.approx(-env.goal_distance().gripper)
    assert env.gripper_tolerance == env.config.gripper_tolerance > 0
    assert env.object_tolerance == env.config.object_tolerance > 0
    env.state[0] = 99.0  # a copy: the world is not changed through it
    assert env.state[0] != 99.0


def test_truncated_after_max_steps_and_reset_restarts():
    env = RobotWorld("push", size=32, config=WorldConfig(max_episode_steps=3))
    first, _ = env.reset(seed=1)
    flags = [env.step(np.zeros(7))[3] for _ in range(4)]
    assert flags == [False, False, True, True] and env.steps == 4
    again, _ = env.reset(seed=1)
    np.testing.assert_array_equal(first, again)
    assert env.steps == 0


def test_actions_are_clipped_per_step():
    env = RobotWorld("reach", size=32)
    env.reset(seed=0, options={"state": [0, 0, 0.1, 0, 0, 0, 0.5], "object_position": [0.15, 0.15]})
    *_, info = env.step([1.0, -1.0, 1.0, 2.0, -2.0, 2.0, -3.0])
    c = env.config
    limit = [c.max_translation] * 3 + [c.max_rotation] * 3 + [c.max_gripper_step]
    np.testing.assert_allclose(info["action"], np.array([1, -1, 1, 1, -1, 1, -1]) * limit)
    np.testing.assert_allclose(env.state[:3], [0.05, -0.05, 0.15])
    assert env.state[6] == 0.0
    with pytest.raises(UsageError, match="7 values"):
        env.step(np.zeros(6))
    with pytest.raises(UsageError, match="NaN"):
        env.step([np.nan] * 7)
    with pytest.raises(UsageError, match="unknown task"):
        RobotWorld("fly")


def test_rotation_and_gripper_integrate_like_the_planner():
    env = RobotWorld("reach", size=32)
    env.reset(seed=0, options={"state": [0, 0, 0.1, 0, 0, 0.2, 0.5]})
    env.step([0, 0, 0, 0, 0, 0.1, 0.3])
    np.testing.assert_allclose(env.state[3:], [0, 0, 0.3, 0.8], atol=1e-12)


def test_gripper_pushes_the_object():
    env = RobotWorld("push", size=32)
    d = env.config.contact_distance
    env.reset(seed=0, options={"state": [-0.1, 0, 0.05, 0, 0, 0, 0], "object_position": [0, 0]})
    before = env.render()
    env.step([0.05, 0, 0, 0, 0, 0, 0])  # not touching yet: gap 0.1 - d = 0.015 < 0.05
    np.testing.assert_allclose(env.object_position, [0.05 - 0.1 + d, 0], atol=1e-9)
    env.step([0.05, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(env.object_position, [d, 0], atol=1e-9)
    np.testing.assert_allclose(env.state[:2], [0, 0], atol=1e-9)
    assert not np.array_equal(before, env.render())
    env.step([-0.05, 0.05, 0, 0, 0, 0, 0])  # moving away leaves it where it is
    np.testing.assert_allclose(env.object_position, [d, 0], atol=1e-9)


def test_off_centre_push_slides_the_object_sideways():
    env = RobotWorld("push", size=32)
    env.reset(seed=0, options={"state": [-0.09, 0.03, 0.05, 0, 0, 0, 0], "object_position": [0, 0]})
    for _ in range(3):
        env.step([0.05, 0, 0, 0, 0, 0, 0])
    x, y = env.object_position
    assert x > 0 and y < 0


def test_bounds_hold_under_wild_actions():
    env = RobotWorld("push", size=32)
    c = env.config
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(300):
        env.step(rng.normal(0, 1, 7))
        x, y, z = env.state[:3]
        assert abs(x) <= c.half_width + 1e-12 and abs(y) <= c.half_width + 1e-12
        assert c.z_range[0] <= z <= c.z_range[1]
        assert np.all(np.abs(env.object_position) <= c.object_limit + 1e-12)
        gap = np.hypot(*(env.object_position - env.state[:2]))
        assert gap >= c.contact_distance - 1e-9
        assert 0.0 <= env.state[6] <= 1.0


def test_an_object_against_the_edge_stops_the_gripper():
    env = RobotWorld("push", size=32)
    c = env.config
    wall = [c.object_limit, 0.0]
    env.reset(seed=0, options={"state": [c.object_limit - c.contact_distance - 0.01, 0, 0.05,
                                         0, 0, 0, 0], "object_position": wall})  # fmt: skip
    for _ in range(3):
        env.step([0.05, 0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(env.object_position, wall)
    np.testing.assert_allclose(env.state[0], c.object_limit - c.contact_distance)


def test_height_opening_and_yaw_show_in_the_picture():
    env = RobotWorld("reach", size=64)
    env.reset(seed=0)
    state, obj = env.state, env.object_position
    base = env.render_state(state, obj).astype(int)
    for index, value in ((2, state[2] + 0.1 if state[2] < 0.1 else 0.0), (6, 1 - state[6]),
                         (5, state[5] + np.pi / 2)):  # fmt: skip
        changed = state.copy()
        changed[index] = value
        assert np.abs(env.render_state(changed, obj).astype(int) - base).sum() > 500


def test_subpixel_moves_change_the_frame():
    """Anti-aliased drawing: a 2 mm move (a quarter pixel at 64 px) still changes the picture."""
    env = RobotWorld("reach", size=64)
    env.reset(seed=0)
    moved = env.state
    moved[0] += 0.002
    assert not np.array_equal(env.render(), env.render_state(moved, env.object_position))


@pytest.mark.parametrize("task", ["reach", "push"])
def test_goals_are_reachable_by_the_oracle(task):
    env = RobotWorld(task, size=32)
    successes = 0
    for seed in range(20):
        env.reset(seed=seed)
        np.testing.assert_array_equal(
            env.goal_image(), env.render_state(env.goal_state, env.goal_object)
        )
        for _ in range(40):
            if env.step(oracle_action(env))[2]:
                successes += 1
                break
    assert successes == 20


def test_goal_distance_and_success():
    env = RobotWorld("push", size=32)
    env.reset(seed=0)
    distance = env.goal_distance()
    assert isinstance(distance, GoalDistance)
    assert distance.gripper == pytest.approx(np.linalg.norm(env.state[:3] - env.goal_state[:3]))
    assert distance.object == pytest.approx(np.linalg.norm(env.object_position - env.goal_object))
    assert not env.is_success()
    assert env.is_success(env.state, env.object_position)
    assert env.goal_distance(env.state, env.object_position) == (0.0, 0.0)
    near = env.state
    near[0] += 0.9 * env.gripper_tolerance
    assert env.is_success(near, env.object_position)
    near[0] += 0.2 * env.gripper_tolerance
    assert not env.is_success(near, env.object_position)


def test_states_of_an_episode_invert_through_derived_actions():
    _, states = explore(RobotWorld("push", size=32), seed=2, steps=30)
    states = states.astype(np.float32)
    rebuilt = propagate_states(states[0], actions_from_states(states))
    np.testing.assert_allclose(rebuilt, states, atol=1e-5)


def test_push_exploration_touches_the_object():
    env = RobotWorld("push", size=32)
    moved = 0
    for seed in range(5):
        env.reset(seed=seed)
        start = env.object_position
        policy = ExplorationPolicy(env, np.random.default_rng(seed))
        for _ in range(30):
            env.step(policy())
        moved += np.hypot(*(env.object_position - start)) > 0.01
    assert moved >= 3


def test_a_step_towards_the_goal_makes_the_picture_more_like_the_goal():
    """The arm (a thick link from a fixed base) and the angled camera make the picture change in
    a graded, wide way with the gripper's position: a 5 cm step straight at the goal pose brings
    the frame closer to the goal image (pixel L1) than the same step away from it, in most
    starts, even when the two grippers are far apart (separate discs alone: about half)."""
    env = RobotWorld("reach", size=32)
    wins = 0
    for seed in range(40):
        env.reset(seed=seed)
        goal = env.goal_image().astype(int)
        toward = env.goal_state[:3] - env.state[:3]
        toward *= 0.05 / np.linalg.norm(toward)
        errors = []
        for sign in (1, -1):
            moved = env.state
            moved[:3] = np.clip(moved[:3] + sign * toward, [-0.25, -0.25, 0], [0.25, 0.25, 0.2])
            errors.append(np.abs(env.render_state(moved, env.object_position) - goal).mean())
        wins += errors[0] < errors[1]
    assert wins >= 30, wins


def test_push_starts_behind_the_object_on_the_line_of_the_push():
    """``push_start="behind"``: 1-8 cm back from contact, within 25 degrees of the push line;
    ``"anywhere"`` keeps the drawn start (most of those are not behind)."""
    behind = RobotWorld("push")
    for seed in range(30):
        behind.reset(seed=seed)
        push = behind.goal_object - behind.object_position
        offset = behind.state[:2] - behind.object_position
        gap = np.hypot(*offset) - behind.config.contact_distance
        cosine = -(offset @ push) / (np.hypot(*offset) * np.hypot(*push))
        assert -1e-9 <= gap <= 0.08 + 1e-9 or np.abs(behind.state[:2]).max() >= 0.25 - 1e-9
        assert cosine >= np.cos(np.radians(25)) - 1e-6 or np.abs(behind.state[:2]).max() >= 0.25
    anywhere = RobotWorld("push", config=WorldConfig(push_start="anywhere"))
    far = 0
    for seed in range(30):
        anywhere.reset(seed=seed)
        far += np.hypot(*(anywhere.state[:2] - anywhere.object_position)) > 0.17
    assert far > 10
    with pytest.raises(UsageError, match="push_start 'behnd': choose one of behind, anywhere"):
        WorldConfig(push_start="behnd")


def test_the_lamp_lights_the_table_below_the_gripper_wider_when_higher():
    env = RobotWorld("reach", size=64)
    env.reset(seed=0, options={"object_position": [0.2, 0.2]})
    dark = RobotWorld("reach", size=64, config=WorldConfig(lamp_radius=0.0))
    dark.reset(seed=0, options={"object_position": [0.2, 0.2]})
    corner = [-0.18, 0.18, 0.0, 0, 0, 0, 0]
    lit = env.render_state(corner, [0.2, 0.2]).astype(float)
    unlit = dark.render_state(corner, [0.2, 0.2]).astype(float)
    gain = (lit - unlit).mean(-1)
    # brighter near the gripper (upper left) than at the far corner (lower right)
    assert gain[:16, :16].mean() > 5 * gain[-16:, -16:].mean() + 1
    high = env.render_state([-0.18, 0.18, 0.2, 0, 0, 0, 0], [0.2, 0.2]).astype(float)
    high_gain = (high - dark.render_state([-0.18, 0.18, 0.2, 0, 0, 0, 0], [0.2, 0.2])).mean(-1)
    assert high_gain[-16:, -16:].mean() > gain[-16:, -16:].mean()  # wider when higher
    assert high_gain.max() < gain.max()  # and dimmer
