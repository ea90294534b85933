"""``vjepa2 train-ac`` on a tiny world model and a tiny toy-robot dataset: the loss falls, SIGKILL
then --resume equals an uninterrupted run bit for bit, torchrun with two gloo processes
completes (and matches one process), a re-run is refused, the final model loads with
vjepa2.load; plus the pieces (schedule, clip sampling, actions, cache)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

import vjepa2
from vjepa2 import VJEPA2Config, VJEPA2Model
from vjepa2.cli import app
from vjepa2.data.robot_data import make_robot_dataset
from vjepa2.data.trajectories import actions_from_states, read_episode, write_episode
from vjepa2.errors import UsageError
from vjepa2.train import ac_data
from vjepa2.train.ac import scale_conditioning, train_ac, warmup_stable_decay
from vjepa2.train.ac_options import TrainACOptions
from vjepa2.video import read_video
from vjepa2.world_model import ACPredictorConfig, FrameTransform, VJEPA2ACConfig, WorldModel

ENCODER = VJEPA2Config(
    hidden_size=48, num_hidden_layers=2, num_attention_heads=3, crop_size=32, frames_per_clip=2,
    pred_hidden_size=24, pred_num_hidden_layers=1, pred_num_attention_heads=2,
)  # fmt: skip
PREDICTOR = ACPredictorConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
TINY = VJEPA2ACConfig(encoder=ENCODER, predictor=PREDICTOR)
runner = CliRunner()


@pytest.fixture(scope="module")
def robot(tmp_path_factory) -> Path:
    """4 train + 2 val push episodes of 13 frames at 32 px (4 fps)."""
    root = tmp_path_factory.mktemp("robot")
    make_robot_dataset(root, episodes=6, steps=12, size=32, val_fraction=0.34, seed=3)
    return root


@pytest.fixture(scope="module")
def world_model(tmp_path_factory) -> Path:
    """A tiny world model in our format (original init, seeded)."""
    torch.manual_seed(0)
    wm = WorldModel(TINY)
    wm.reset_parameters()
    return wm.save_pretrained(tmp_path_factory.mktemp("wm") / "wm")


def _args(data: Path, model: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train-ac", "--data", str(data), "--model", str(model), "--out", str(out),
        "--frames", "4", "--batch-size", "2", "--epochs", "6", "--lr", "1e-3", "--warmup", "1",
        "--decay", "2", "--device", "cpu", "--seed", "5", *extra,
    ]  # fmt: skip


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "vjepa2", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _losses(run: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in _records(run) if "loss" in r}


# -- the pieces -------------------------------------------------------------------------------


def test_warmup_stable_decay_schedule():
    lrs = [warmup_stable_decay(s, 4, 4, 20, ref=1.0, start=0.2, final=0.0) for s in range(21)]
    assert lrs[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert lrs[4:17] == [1.0] * 13  # stable until total - decay
    assert lrs[16:] == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])
    assert warmup_stable_decay(7, 0, 0, 10, ref=0.5, start=0.0, final=0.0) == 0.5


def _cached(tmp_path: Path, stride: int, derive: bool) -> ac_data.CachedEpisode:
    rng = np.random.default_rng(0)
    states = rng.normal(size=(9, 7)).astype(np.float32)
    actions = rng.normal(size=(8, 7)).astype(np.float32)
    frames = rng.integers(0, 255, (9, 32, 32, 3), dtype=np.uint8)
    write_episode(tmp_path, "ep", frames, states, actions, fps=4.0 * stride)
    episode = read_episode(tmp_path / "ep.npz")
    path = tmp_path / "cache.safetensors"
    save_file({"h": torch.arange(9 * 2 * 3.0).view(9, 2, 3)}, path)
    return ac_data.CachedEpisode(episode, path, stride, derive)


def test_clip_takes_every_stride_th_frame_with_summed_or_derived_actions(tmp_path):
    assert ac_data.clip_stride(15.0, 4.0) == 4 and ac_data.clip_stride(4.0, 4.0) == 1
    assert ac_data.clip_stride(8.0, 4.0) == 2
    episode = _cached(tmp_path, stride=2, derive=False)
    assert episode.max_start(4) == 9 - 3 * 2 - 1 == 2
    clip = episode.clip(1, 4)
    h = torch.arange(9 * 2 * 3.0).view(9, 2, 3)
    assert torch.equal(clip.h, h[[1, 3, 5, 7]].flatten(0, 1))
    assert torch.equal(clip.states, torch.from_numpy(episode.episode.states[[1, 3, 5, 7]]))
    summed = episode.episode.actions[1:7].reshape(3, 2, 7).sum(1)
    assert torch.equal(clip.actions, torch.from_numpy(summed))
    derived = ac_data.CachedEpisode(episode.episode, episode.cache_path, 2, True).clip(1, 4)
    expected = actions_from_states(episode.episode.states[[1, 3, 5, 7]])
    assert torch.equal(derived.actions, torch.from_numpy(expected))


def test_data_init_divides_the_conditioning_weights_by_each_inputs_spread(tmp_path):
    """--cond-init data: each action / state column's weights divided by that input's std over
    the episodes (actions summed over the stride), constant inputs untouched."""
    episode = _cached(tmp_path, stride=2, derive=False)
    episode.episode.states[:, 4] = 0.5  # a constant input
    torch.manual_seed(0)
    wm = WorldModel(TINY)
    before = [wm.predictor.action_encoder.weight.clone(), wm.predictor.state_encoder.weight.clone()]
    scale_conditioning(wm, [episode])
    actions = episode.episode.actions.reshape(4, 2, 7).sum(1)
    states = episode.episode.states
    for weight, old, values in zip(
        (wm.predictor.action_encoder.weight, wm.predictor.state_encoder.weight), before,
        (actions, states), strict=True,
    ):  # fmt: skip
        gain = np.where(values.std(0) > 1e-6, 1 / np.maximum(values.std(0), 1e-6), 1.0)
        torch.testing.assert_close(weight, old * torch.from_numpy(gain).float())
    assert torch.equal(wm.predictor.state_encoder.weight[:, 4], before[1][:, 4])


def test_epoch_clips_are_seeded_shuffled_and_in_range(tmp_path):
    episode = _cached(tmp_path, stride=1, derive=True)
    episodes = [episode] * 5
    clips = ac_data.epoch_clips(episodes, 4, 3, seed=1, epoch=2)
    assert clips == ac_data.epoch_clips(episodes, 4, 3, seed=1, epoch=2)
    assert clips != ac_data.epoch_clips(episodes, 4, 3, seed=1, epoch=3)
    assert sorted(i for i, _ in clips) == sorted(list(range(5)) * 3)
    assert all(0 <= s <= episode.max_start(4) for _, s in clips)
    assert len({s for _, s in clips}) > 1
    val = ac_data.validation_clips([episode], 4)
    assert val == [(0, 0), (0, 4)]  # 9 frames: non-overlapping 4-frame windows
    # Two ranks split each global batch of 2 x 2 clips, dropping the incomplete last one.
    ranks = [list(ac_data.iterate_batches(episodes, clips, 4, 2, shard=(r, 2))) for r in (0, 1)]
    assert [len(b) for b in ranks] == [3, 3]
    assert torch.equal(ranks[1][0].h[0], episode.clip(clips[2][1], 4).h)


def test_options_refuse_impossible_settings(robot, world_model, tmp_path):
    with pytest.raises(UsageError, match="rollout-steps 4"):
        TrainACOptions(data=str(robot), out=tmp_path, model=str(world_model), frames=4,
                       rollout_steps=4)  # fmt: skip
    with pytest.raises(UsageError, match="--config and --encoder"):
        TrainACOptions(data=str(robot), out=tmp_path)
    wrong = tmp_path / "wrong"
    torch.manual_seed(0)
    WorldModel(VJEPA2ACConfig(encoder=ENCODER, predictor=ACPredictorConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=4, action_dim=3,
    ))).save_pretrained(wrong)  # fmt: skip
    options = TrainACOptions(data=str(robot), out=tmp_path / "run", model=str(wrong), frames=4)
    with pytest.raises(UsageError, match="7-D states and 7-D actions, but the predictor takes "
                       "3-D states and 3-D actions"):  # fmt: skip
        train_ac(options)


# -- training ---------------------------------------------------------------------------------


def test_loss_falls_cache_is_the_encoders_and_the_model_loads(robot, world_model, tmp_path):
    out = tmp_path / "run"
    options = TrainACOptions(data=str(robot), out=out, model=str(world_model), frames=4,
                             batch_size=2, clips_per_episode=2, epochs=8, lr=1e-3, warmup=1,
                             decay=2, seed=1, device="cpu")  # fmt: skip
    summary = train_ac(options)
    records = _records(out)
    train = [r for r in records if "loss" in r]
    val = [r["val_loss"] for r in records if "val_loss" in r]
    assert [r["step"] for r in train] == list(range(1, 33)) == list(range(1, summary["steps"] + 1))
    first, last = train[0], train[-1]
    for key in ("loss_tf", "loss_rollout"):
        assert last[key] < 0.5 * first[key], (key, first[key], last[key])
    assert len(val) == 8 and val[-1] < 0.5 * val[0]
    assert train[-1]["lr"] < 1e-3 and max(r["lr"] for r in train) == pytest.approx(1e-3)

    # The cache holds wm.encode_frames of every frame, after the world model's transform.
    initial = vjepa2.load(world_model)
    episode = read_episode(sorted((robot / "train").glob("*.npz"))[0])
    cached = next((out / "cache").glob(f"*/train/{episode.name}.safetensors"))
    frames, _ = read_video(episode.frames_path)
    expected = initial.encode_frames(FrameTransform(32)(frames)[None])
    torch.testing.assert_close(load_file(cached)["h"], expected.view(13, 4, 48), atol=0, rtol=0)

    # The final world model: vjepa2.load gives the trained predictor and the untouched encoder.
    trained = vjepa2.load(out / "model")
    assert isinstance(trained, WorldModel)
    checkpoint = torch.load(out / "latest.pt", weights_only=True)
    for key, value in checkpoint["predictor"].items():
        assert torch.equal(trained.predictor.state_dict()[key], value), key
    for key, value in initial.encoder.state_dict().items():
        assert torch.equal(trained.encoder.state_dict()[key], value), key
    reference = WorldModel(TINY).eval()
    trained_predictor = {f"predictor.{k}": v for k, v in checkpoint["predictor"].items()}
    reference.load_state_dict({**initial.state_dict(), **trained_predictor})
    h, actions, states = torch.randn(2, 3 * 4, 48), torch.randn(2, 3, 7), torch.randn(2, 3, 7)
    with torch.no_grad():
        assert torch.equal(trained.predictor(h, actions, states),
                           reference.predictor(h, actions, states))  # fmt: skip


def test_fresh_predictor_on_an_encoder_and_the_cache_survives_overwrite(robot, tmp_path):
    encoder_dir = tmp_path / "encoder"
    torch.manual_seed(3)
    encoder_model = VJEPA2Model(ENCODER.replace(crop_size=64))
    encoder_model.reset_parameters()
    vjepa2.save(encoder_model, encoder_dir)
    config = TINY.save(tmp_path / "config")  # its encoder section says 32 px: that is kept
    out = tmp_path / "run"
    args = ["train-ac", "--data", str(robot), "--config", str(config), "--encoder",
            str(encoder_dir), "--out", str(out), "--frames", "4", "--batch-size", "2",
            "--max-steps", "2", "--device", "cpu"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    trained = vjepa2.load(out / "model")
    assert trained.config.encoder.crop_size == 32 and trained.config.encoder.hidden_size == 48
    for key, value in encoder_model.encoder.state_dict().items():
        assert torch.equal(trained.encoder.state_dict()[key], value), key
    cached = sorted((out / "cache").rglob("*.safetensors"))
    assert len(cached) == 6
    stamps = [p.stat().st_mtime_ns for p in cached]

    again = runner.invoke(app, [*args, "--overwrite", "--rollout-steps", "3"])
    assert again.exit_code == 0, again.output
    assert [p.stat().st_mtime_ns for p in sorted((out / "cache").rglob("*.safetensors"))] == stamps


def test_rerun_without_resume_is_refused(robot, world_model, tmp_path):
    out = tmp_path / "run"
    first = runner.invoke(app, _args(robot, world_model, out, "--max-steps", "1"))
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, _args(robot, world_model, out, "--max-steps", "1"))
    assert again.exit_code == 2
    assert "already holds a run" in again.output and "--resume" in again.output
    changed = runner.invoke(app, _args(robot, world_model, out, "--max-steps", "1", "--resume",
                                       "--lr", "2e-3"))  # fmt: skip
    assert changed.exit_code == 2 and "lr: 0.001 -> 0.002" in changed.output


@pytest.mark.slow
def test_sigkill_then_resume_equals_the_uninterrupted_run(robot, world_model, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    extra = ("--clips-per-episode", "2", "--checkpoint-every", "3")
    subprocess.run(_command(*_args(robot, world_model, whole, *extra)), check=True, env=_env(),
                   capture_output=True)  # fmt: skip
    expected = _losses(whole)
    assert sorted(expected) == list(range(1, 25))  # 8 clips / 2 = 4 steps x 6 epochs

    process = subprocess.Popen(
        _command(*_args(robot, world_model, killed, *extra)), env=_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (killed / "latest.pt").exists() and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within 2 minutes"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    checkpoint = torch.load(killed / "latest.pt", weights_only=True)
    assert 3 <= checkpoint["step"] < 24, "the run finished before it could be killed"
    assert not (killed / "model").exists()

    subprocess.run(_command(*_args(robot, world_model, killed, *extra, "--resume")), check=True,
                   env=_env(), capture_output=True)  # fmt: skip
    resumed = _losses(killed)
    assert sorted(resumed) == sorted(expected)
    assert [resumed[s] for s in sorted(resumed)] == [expected[s] for s in sorted(expected)]
    timeless = [{k: v for k, v in r.items() if k != "clips_per_s"} for r in _records(killed)]
    assert timeless == [{k: v for k, v in r.items() if k != "clips_per_s"}
                        for r in _records(whole)]  # validation losses too  # fmt: skip
    final = load_file(killed / "model" / "model.safetensors")
    reference = load_file(whole / "model" / "model.safetensors")
    assert final.keys() == reference.keys()
    for key, value in reference.items():
        assert torch.equal(final[key], value), key


@pytest.mark.slow
def test_torchrun_two_gloo_processes_match_one(robot, world_model, tmp_path):
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    args = _args(robot, world_model, ddp, "--clips-per-episode", "2", "--max-steps", "3",
                 "--batch-size", "1")  # fmt: skip
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "vjepa2", *args]  # fmt: skip
    result = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = torch.load(ddp / "latest.pt", weights_only=True)
    assert checkpoint["world_size"] == 2 and checkpoint["step"] == 3
    assert sorted(_losses(ddp)) == [1, 2, 3]  # one record per step: rank 0 writes alone
    assert isinstance(vjepa2.load(ddp / "model"), WorldModel)

    # Two processes of batch 1 average their gradients: one process of batch 2, up to rounding.
    one = _args(robot, world_model, single, "--clips-per-episode", "2", "--max-steps", "3")
    subprocess.run(_command(*one), check=True, env=_env(), capture_output=True)
    got, want = _losses(ddp), _losses(single)
    assert [got[s] for s in (1, 2, 3)] == pytest.approx([want[s] for s in (1, 2, 3)], rel=1e-4)


def test_other_dimensions_and_skipped_frames(tmp_path):
    """A robot with 3-D states and no actions in its files, recorded at 8 fps: clips take every
    2nd frame, actions derived from the sampled states; too-short episodes are skipped."""
    rng = np.random.default_rng(1)
    for split, lengths in (("train", (17, 17, 5)), ("val", (17,))):
        for i, t in enumerate(lengths):
            frames = rng.integers(0, 255, (t, 32, 32, 3), dtype=np.uint8)
            states = np.cumsum(rng.normal(size=(t, 3)), 0).astype(np.float32)
            write_episode(tmp_path / "data" / split, f"ep{i}", frames, states, fps=8.0)
    model = tmp_path / "wm"
    torch.manual_seed(0)
    predictor = ACPredictorConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                  action_dim=3)  # fmt: skip
    WorldModel(VJEPA2ACConfig(encoder=ENCODER, predictor=predictor)).save_pretrained(model)
    out = tmp_path / "run"
    options = TrainACOptions(data=str(tmp_path / "data"), out=out, model=str(model), frames=8,
                             batch_size=2, epochs=2, rollout_steps=3, device="cpu")  # fmt: skip
    summary = train_ac(options)
    assert summary["steps"] == 2 and summary["val_loss"] is not None  # 2 of 3 episodes usable
    assert vjepa2.load(out / "model").config.predictor.state_dim == 3
