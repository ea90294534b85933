"""Resumption helpers and schedules shared by the trainers."""

import random

import numpy as np
import pytest
import torch

from vjepa2.train.optim import linear, param_groups, set_lr, warmup_cosine
from vjepa2.train.state import load_checkpoint, rng_state, save_atomic, set_rng_state


def draws():
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    path = save_atomic({"rng": rng_state()}, tmp_path / "ckpt.pt")
    first = draws()
    set_rng_state(load_checkpoint(path)["rng"])
    assert draws() == first
    assert not list(tmp_path.glob(".*.tmp"))


def test_param_groups_skip_decay_on_biases_and_norms():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    decay, no_decay = param_groups([model], weight_decay=0.05)
    assert [p.shape for p in decay["params"]] == [(4, 4)]
    assert len(no_decay["params"]) == 3 and no_decay["weight_decay"] == 0.0
    opt = torch.optim.AdamW([decay, no_decay])
    set_lr(opt, 1e-3, weight_decay=0.1)
    assert opt.param_groups[0]["weight_decay"] == 0.1 and opt.param_groups[1]["weight_decay"] == 0


def test_schedules():
    assert warmup_cosine(0, 10, 110, ref=1.0, start=0.1) == pytest.approx(0.1)
    assert warmup_cosine(10, 10, 110, ref=1.0) == pytest.approx(1.0)
    assert warmup_cosine(60, 10, 110, ref=1.0) == pytest.approx(0.5)
    assert warmup_cosine(110, 10, 110, ref=1.0, final=0.2) == pytest.approx(0.2)
    assert warmup_cosine(500, 10, 110, ref=0.5, final=0.5) == pytest.approx(0.5)  # constant
    assert linear(5, 10, 0.99, 1.0) == pytest.approx(0.995)
