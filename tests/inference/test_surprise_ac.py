"""Surprise with a world model: each step's AC prediction error, on tiny toy-world episodes."""

import csv

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import vjepa2
from tests.world_model.conftest import random_world_model
from vjepa2.cli import app
from vjepa2.data.trajectories import read_episode, write_episode
from vjepa2.errors import UsageError
from vjepa2.inference import surprise_ac
from vjepa2.inference.surprise import SurpriseWindow, relative_scores, spike_scores
from vjepa2.inference.surprise_ac import ac_surprise, sampled_trajectory, step_errors
from vjepa2.sim import ExplorationPolicy, RobotWorld
from vjepa2.video import read_video

runner = CliRunner()
STEPS = 11  # 12 frames


def explore(seed: int, steps: int = STEPS) -> dict[str, np.ndarray]:
    env = RobotWorld(task="push", size=64)
    frames, states, actions = [env.reset(seed=seed)[0]], [env.state], []
    policy = ExplorationPolicy(env, np.random.default_rng(seed))
    for _ in range(steps):
        frame, *_, info = env.step(policy())
        frames.append(frame)
        states.append(env.state)
        actions.append(info["action"])
    return {"frames": np.stack(frames), "states": np.stack(states), "actions": np.stack(actions)}


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    root = tmp_path_factory.mktemp("episodes")
    run = explore(0)
    write_episode(root, "run", run["frames"], run["states"], run["actions"])
    other = run["actions"].copy()
    other[5:, :3] += 0.5  # the same frames and states, other moves from step 5 on
    write_episode(root, "other_actions", run["frames"], run["states"], other)
    return {"run": root / "run.mp4", "other_actions": root / "other_actions.mp4"}


@pytest.fixture(scope="module")
def wm():
    torch.manual_seed(0)
    return random_world_model()


def by_hand(wm, episode, context: int) -> list[torch.Tensor]:
    """Every frame's encoding, then each step as `WorldModel.teacher_forcing` on its window."""
    frames, _ = read_video(episode.frames_path)
    n = wm.tokens_per_frame
    h = wm.encode_frames(wm.transform(frames)[None])
    states, actions = torch.from_numpy(episode.states), torch.from_numpy(episode.actions)
    out = []
    with torch.no_grad():
        for g in range(1, episode.num_frames):
            c = min(context, g)
            window = h[:, (g - c) * n : (g + 1) * n]
            z = wm.teacher_forcing(window, actions[None, g - c : g], states[None, g - c : g + 1])
            out.append((z[0, -n:] - h[0, g * n : (g + 1) * n]).abs().mean(-1))
    return out


@pytest.mark.parametrize("chunk", [3, 5, 64])
def test_each_step_is_teacher_forcing_on_its_window(wm, episodes, chunk):
    episode = read_episode(episodes["run"])
    steps = list(step_errors(wm, episode, context_frames=4, chunk=chunk))
    expected = by_hand(wm, episode, context=4)
    assert [s.step for s in steps] == list(range(STEPS))
    assert [s.end_s for s in steps] == [(t + 1) / 4 for t in range(STEPS)]
    for step, want in zip(steps, expected, strict=True):
        assert step.errors.shape == (wm.tokens_per_frame,)
        assert torch.allclose(step.errors, want, atol=1e-5)


def test_frames_are_decoded_a_chunk_at_a_time(wm, episodes, monkeypatch):
    reads = []
    real = surprise_ac.read_video

    def counting(path, indices=None, **kwargs):
        reads.append(len(indices))
        return real(path, indices=indices, **kwargs)

    monkeypatch.setattr(surprise_ac, "read_video", counting)
    steps = step_errors(wm, read_episode(episodes["run"]), context_frames=2, chunk=4)
    next(steps)
    assert reads == [4]
    assert len(list(steps)) == STEPS - 1 and reads == [4, 4, 4]


def test_the_score_uses_the_actions(wm, episodes):
    same = [w.score for w in ac_surprise(wm, read_episode(episodes["run"]), 4)]
    other = [w.score for w in ac_surprise(wm, read_episode(episodes["other_actions"]), 4)]
    assert same[:5] == pytest.approx(other[:5], abs=1e-6)
    assert all(abs(a - b) > 1e-4 for a, b in zip(same[5:], other[5:], strict=True))


def test_max_reduction_is_the_worst_token(wm, episodes):
    episode = read_episode(episodes["run"])
    steps = list(step_errors(wm, episode, 4))
    worst = [w.score for w in ac_surprise(wm, episode, 4, reduce="max")]
    mean = [w.score for w in ac_surprise(wm, episode, 4, reduce="mean")]
    assert worst == pytest.approx([float(s.errors.max()) for s in steps], abs=1e-6)
    assert mean == pytest.approx([float(s.errors.mean()) for s in steps], abs=1e-6)
    assert all(w > m for w, m in zip(worst, mean, strict=True))


def test_frame_step_sums_the_skipped_actions(episodes):
    episode = read_episode(episodes["run"])
    frames, states, actions = sampled_trajectory(episode, 3)
    assert frames.tolist() == [0, 3, 6, 9]
    assert torch.equal(states, torch.from_numpy(episode.states[[0, 3, 6, 9]]))
    assert torch.allclose(actions[1], torch.from_numpy(episode.actions[3:6].sum(0)))
    assert actions.shape == (3, 7)


def test_wrong_dims_are_a_usage_error(episodes):
    torch.manual_seed(0)
    six = random_world_model(action_dim=6, state_dim=6)
    with pytest.raises(UsageError, match="7-D states, the world model takes 6-D"):
        next(ac_surprise(six, read_episode(episodes["run"])))


def test_relative_scores_divide_by_the_running_median():
    windows = [SurpriseWindow(t, t + 1, s) for t, s in enumerate([2.0, 4.0, 2.0, 2.0, 8.0, 2.0])]
    got = [w.score for w in relative_scores(windows, level=3)]
    # medians: [2], [2, 4], [2, 4, 2], [2, 4, 2, 2], [4, 2, 2, 8], [2, 2, 8, 2]
    assert got == pytest.approx([1.0, 4 / 3, 1.0, 1.0, 8 / 3, 1.0])
    assert [w.start_s for w in relative_scores(windows, 3)] == list(range(6))
    with pytest.raises(UsageError, match="--relative"):
        next(relative_scores(windows, 0))


def test_spike_scores_stand_above_both_neighbours():
    windows = [SurpriseWindow(t, t + 1, s) for t, s in enumerate([1.0, 5.0, 2.0, 3.0, 3.5, 9.0])]
    got = list(spike_scores(iter(windows)))
    assert [w.score for w in got] == pytest.approx([-4.0, 3.0, -3.0, -0.5, -5.5, 5.5])
    assert [(w.start_s, w.end_s) for w in got] == [(w.start_s, w.end_s) for w in windows]
    assert [w.score for w in spike_scores([windows[0]])] == [0.0]
    assert list(spike_scores([])) == []


def test_spike_scores_are_one_window_late():
    seen = []

    def source():
        for t in range(4):
            seen.append(t)
            yield SurpriseWindow(t, t + 1, float(t))

    spikes = spike_scores(source())
    next(spikes)
    assert seen == [0, 1]


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def wm_dir(tmp_path_factory, wm):
    path = tmp_path_factory.mktemp("wm")
    vjepa2.save(wm, path)
    return path


def test_cli_scores_an_episode_step_by_step(wm, wm_dir, episodes, tmp_path):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "steps.csv", tmp_path / "steps.png"
    result = cli("surprise", episodes["run"], "-m", wm_dir, "-o", out, "--png", png,
                 "--reduce", "max", "--context-frames", 4, "--device", "cpu")  # fmt: skip
    assert result.exit_code == 0, result.output
    with open(out) as handle:
        rows = list(csv.DictReader(handle))
    want = list(ac_surprise(wm, read_episode(episodes["run"]), 4, reduce="max"))
    assert len(rows) == STEPS
    assert [float(r["score"]) for r in rows] == pytest.approx([w.score for w in want], abs=1e-5)
    assert [float(r["end_s"]) for r in rows] == [w.end_s for w in want]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_relative_scores(wm, wm_dir, episodes):
    result = cli("surprise", episodes["run"], "-m", wm_dir, "--relative", 4, "--device", "cpu")
    assert result.exit_code == 0, result.output
    scores = [float(line.split("\t")[2]) for line in result.stdout.splitlines()]
    raw = ac_surprise(wm, read_episode(episodes["run"]))
    assert scores == pytest.approx([w.score for w in relative_scores(raw, 4)], abs=1e-5)
    assert scores[0] == 1.0
    result = cli("surprise", episodes["run"], "-m", wm_dir, "--relative", 4, "--spike")
    scores = [float(line.split("\t")[2]) for line in result.stdout.splitlines()]
    raw = ac_surprise(wm, read_episode(episodes["run"]))
    want = spike_scores(relative_scores(raw, 4))
    assert scores == pytest.approx([w.score for w in want], abs=1e-5)


@pytest.mark.parametrize(
    "args, message",
    [(("--future-frames", 2), "one frame at a time"), (("--reduce", "median"), "--reduce")],
)
def test_cli_bad_options_are_one_line_exit_2(wm_dir, episodes, args, message):
    result = cli("surprise", episodes["run"], "-m", wm_dir, *args, "--device", "cpu")
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("\n") == 1


def test_cli_video_without_its_episode_data_names_the_file(wm_dir, episodes, tmp_path):
    lone = tmp_path / "lone.mp4"
    lone.write_bytes(episodes["run"].read_bytes())
    result = cli("surprise", lone, "-m", wm_dir, "--device", "cpu")
    assert result.exit_code == 2 and "lone.npz" in result.output
