"""``train-probe`` under ``torchrun --nproc_per_node 2`` (gloo on the CPU): the cache built in
shards, the batches split between the ranks, one run folder; the same metrics and probes as one
process, and a resumed run continues exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import vjepa2
from vjepa2.cli import app
from vjepa2.data.motion import TRANSLATION_CLASSES, MotionSettings, make_motion_dataset
from vjepa2.presets import architecture
from vjepa2.runtime import Distributed
from vjepa2.train.ddp import ShardedBatches

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """13 training clips: with batches of 3 the last batch holds one, so a rank has none."""
    root = tmp_path_factory.mktemp("toy")
    settings = MotionSettings(frames=4, size=32, distractors=(0, 0), noise=(0, 0))
    counts = {"train": 13, "val": 6, "test": 6}
    make_motion_dataset(root, seed=2, classes=TRANSLATION_CLASSES, counts=counts,
                        settings=settings)  # fmt: skip
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = architecture("vit-tiny", hidden_size=48, num_hidden_layers=1, num_attention_heads=3,
                          crop_size=32, frames_per_clip=4, pred_hidden_size=24,
                          pred_num_attention_heads=3, pred_num_hidden_layers=1)  # fmt: skip
    model = vjepa2.build_model(config)
    model.reset_parameters()
    path = tmp_path_factory.mktemp("tiny")
    vjepa2.save(model, path)
    return path


def _args(toy: Path, tiny: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    return ["train-probe", "--train", str(toy / "train.csv"), "--val", str(toy / "val.csv"),
            "--test", str(toy / "test.csv"), "-m", str(tiny), "-o", str(out), "--workers", "0",
            "-q", "--epochs", str(epochs), "--batch-size", "3", "--accumulation", "2",
            "--lr", "1e-3,3e-4", "--probe-blocks", "1", "--device", "cpu", *extra]  # fmt: skip


def _torchrun(args: list[str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "vjepa2", *args]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_split_batches_weigh_to_the_whole_batch():
    class Cache:
        def batch(self, rows):
            return torch.as_tensor(rows), torch.as_tensor(rows)

    class Source:
        cache, rows = Cache(), torch.arange(100, 107).numpy()

    order = torch.tensor([6, 0, 5, 1, 4, 2, 3]).numpy()
    parts = []
    for rank in range(2):
        sharded = ShardedBatches(Source(), Distributed(rank, 2))
        parts.append([(b[0].tolist(), sharded.weight) for b in sharded.batches(order, 3, 0, 0)])
    assert parts[0] == [([106, 105], 4 / 3), ([101, 102], 4 / 3), ([103], 2.0)]
    assert parts[1] == [([100], 2 / 3), ([104], 2 / 3), ([103], 0.0)]  # none left: weight 0


@pytest.mark.slow
def test_torchrun_two_processes_equal_one_and_resume_exactly(toy, tiny, tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    result = CliRunner().invoke(app, _args(toy, tiny, single, 4))
    assert result.exit_code == 0, result.output
    _torchrun(_args(toy, tiny, ddp, 2))  # stopped after 2 epochs, then resumed to 4
    run = _torchrun(_args(toy, tiny, ddp, 4, "--resume", "--allow-change", "epochs"))
    assert run.stdout.count("test top-1") == 1  # rank 0 alone reports
    ours, theirs = (json.loads((d / "metrics.json").read_text()) for d in (ddp, single))
    assert [e["epoch"] for e in ours["history"]] == [1, 2, 3, 4]
    losses = [(a["train_loss"], b["train_loss"]) for a, b in
              zip(ours["history"], theirs["history"], strict=True)]  # fmt: skip
    assert max(abs(a - b) for a, b in losses) <= TOLERANCE, losses
    for a, b in zip(ours["history"], theirs["history"], strict=True):
        assert [v["top1"] for v in a["val"]] == [v["top1"] for v in b["val"]]
    assert ours["test"] == theirs["test"] and ours["best_probe"] == theirs["best_probe"]
    probe = {d: load_file(d / "model" / "model.safetensors") for d in (ddp, single)}
    gap = max((probe[ddp][k] - v).abs().max().item() for k, v in probe[single].items())
    print(
        f"DDP vs one process: max |probe weight diff| {gap:.2e}, "
        f"max |train loss diff| {max(abs(a - b) for a, b in losses):.2e}"
    )
    assert gap <= TOLERANCE
    checkpoint = torch.load(ddp / "checkpoints" / "latest.pt", weights_only=True)
    assert checkpoint["step"] == 4 * 3  # 5 batches of 13 clips, a step every 2
    assert all(np.load(ddp / "features" / split / "done.npy").all()  # every rank's shard in
               for split in ("train", "val", "test"))  # fmt: skip
