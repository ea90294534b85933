"""Pretraining as a process: SIGKILL then --resume continues the same loss trajectory; torchrun
with two gloo processes completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vjepa2.data.motion import MotionSettings, make_motion_dataset

TINY = [
    "--set", "hidden_size=48", "--set", "num_attention_heads=3", "--set", "num_hidden_layers=2",
    "--set", "pred_hidden_size=24", "--set", "pred_num_attention_heads=2",
    "--set", "pred_num_hidden_layers=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("motion")
    make_motion_dataset(
        root, seed=5, counts={"unlabelled": 24}, settings=MotionSettings(frames=8, size=32)
    )
    return root / "unlabelled.txt"


def _command(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "vjepa2", "pretrain", "--data", str(data), "--out", str(out),
        *TINY, "--crop-size", "32", "--frames", "8", "--batch-size", "4", "--epochs", "4",
        "--lr", "1e-3", "--warmup", "1", "--final-lr", "1e-5", "--ema", "0.99", "1.0",
        "--workers", "0", "--log-every", "3", "--seed", "7", "--device", "cpu", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _losses(run: Path) -> dict[int, float]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return {r["step"]: r["loss"] for r in map(json.loads, lines) if "loss" in r}


@pytest.mark.slow
def test_sigkill_then_resume_follows_the_uninterrupted_trajectory(unlabelled, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(_command(unlabelled, whole), check=True, env=_env(), capture_output=True)
    expected = _losses(whole)
    assert sorted(expected) == list(range(1, 25))  # 24 clips / 4 = 6 steps x 4 epochs

    # Kill the second run with SIGKILL soon after its step-5 checkpoint, mid-epoch.
    process = subprocess.Popen(
        _command(unlabelled, killed, "--checkpoint-every", "5"),
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (killed / "latest.pt").exists() and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within 2 minutes"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    checkpoint = torch.load(killed / "latest.pt", weights_only=True)
    assert 5 <= checkpoint["step"] < 24, "the run finished before it could be killed"

    subprocess.run(
        _command(unlabelled, killed, "--checkpoint-every", "5", "--resume"),
        check=True, env=_env(), capture_output=True,
    )  # fmt: skip
    resumed = _losses(killed)
    assert sorted(resumed) == sorted(expected)
    assert [resumed[s] for s in sorted(resumed)] == [expected[s] for s in sorted(expected)]
    final = torch.load(killed / "latest.pt", weights_only=True)
    reference = torch.load(whole / "latest.pt", weights_only=True)
    assert final["step"] == reference["step"] == 24
    for key, value in reference["target_encoder"].items():
        assert torch.equal(final["target_encoder"][key], value), key


@pytest.mark.slow
def test_torchrun_two_gloo_processes(unlabelled, tmp_path):
    out = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", *_command(unlabelled, out, "--max-steps", "3")[2:],
    ]  # fmt: skip
    result = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = torch.load(out / "latest.pt", weights_only=True)
    assert checkpoint["world_size"] == 2 and checkpoint["step"] == 3
    assert sorted(_losses(out)) == [1, 2, 3]  # one record per step: rank 0 writes alone
