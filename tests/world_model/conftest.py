"""Tiny world-model configs and the tiny_ac fixture (Meta's V-JEPA 2-AC code on tiny models)."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import fixture_path, tiny_config
from vjepa2.world_model import ACPredictorConfig, VJEPA2ACConfig, WorldModel


def tiny_ac_config(**predictor) -> VJEPA2ACConfig:
    """The tiny_ac architecture: encoder 64 px, 96 wide, 2 deep, 3 heads; predictor 64 wide,
    2 deep, 4 heads, 7-D actions and states. Keyword arguments change the predictor."""
    kwargs = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, action_dim=7)
    kwargs.update(predictor)
    return VJEPA2ACConfig(encoder=tiny_config(), predictor=ACPredictorConfig(**kwargs))


def random_world_model(**predictor) -> WorldModel:
    """A tiny world model with the training init, weights perturbed so no output is trivial."""
    wm = WorldModel(tiny_ac_config(**predictor))
    wm.reset_parameters()
    with torch.no_grad():
        for p in wm.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return wm.eval()


@pytest.fixture(scope="module")
def tiny_ac_case() -> dict:
    return torch.load(fixture_path("original", "tiny_ac", "case.pt"), weights_only=True)


@pytest.fixture(scope="module")
def tiny_ac_pt():
    return fixture_path("original", "tiny_ac", "ac.pt")
