"""Shared test helpers: tiny configs and the reference fixtures in ../shared/fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from vjepa2 import VJEPA2Config

ROOT = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One intra-op thread per test worker: OpenMP threads spin while waiting for each other, so
    # more threads than cores (2 workers x 2 threads) slow every test down.
    torch.set_num_threads(1)
FIXTURES = ROOT.parent / "shared" / "fixtures"


def fixture_path(*parts: str) -> Path:
    """A file under ../shared/fixtures, or skip the test when the folder is absent."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference fixture {path} not present (shared/fixtures is not checked out)")
    return path


def tiny_config(**overrides) -> VJEPA2Config:
    """A 2-layer, 96-wide model at 64 px / 4 frames: the shape of the original tiny fixture."""
    kwargs = dict(
        hidden_size=96,
        num_hidden_layers=2,
        num_attention_heads=3,
        crop_size=64,
        frames_per_clip=4,
        pred_hidden_size=48,
        pred_num_hidden_layers=2,
        pred_num_attention_heads=3,
    )
    kwargs.update(overrides)
    return VJEPA2Config(**kwargs)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
