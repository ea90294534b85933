"""Parity with transformers' VJEPA2 port: random tiny models written by ``save_pretrained``.

Every parameter is perturbed so none is trivially zero (mask tokens, biases), then the directory
transformers wrote is loaded by ``vjepa2.load`` and both run on the same inputs in float32.
"""

import pytest
import torch

import vjepa2
from tests.models.parity_cases import (
    CONFIGS,
    ENCODER_FRAMES,
    classifier_logits_error,
    encoder_error,
    hf_config,
    perturb_,
    predictor_errors,
    transformers_pair,
    video_for,
)

transformers = pytest.importorskip("transformers")

TOL = 1e-5


@pytest.fixture(scope="module", params=list(CONFIGS))
def pair(request, tmp_path_factory):
    """(ours, theirs) encoder + predictor with identical weights, via transformers' save."""
    ours, theirs = transformers_pair(request.param, tmp_path_factory.mktemp(request.param))
    return ours, theirs, CONFIGS[request.param]


@pytest.mark.parametrize("frames", ENCODER_FRAMES)
def test_encoder(pair, frames):
    assert encoder_error(*pair, frames) <= TOL


def test_predictor_on_equal_inputs(pair):
    split, default_masks = predictor_errors(*pair)
    assert split <= TOL and default_masks <= TOL


@pytest.mark.parametrize("name", list(CONFIGS))
def test_classifier_logits(name, tmp_path):
    assert classifier_logits_error(name, tmp_path) <= TOL


@pytest.mark.parametrize("name", list(CONFIGS))
@torch.no_grad()
def test_what_we_save_loads_in_transformers(name, tmp_path):
    torch.manual_seed(3)
    config = CONFIGS[name].replace(id2label={0: "a", 1: "b", 2: "c"})
    ours = vjepa2.build_model(config).eval()
    ours.backbone.reset_parameters()
    ours.head.reset_parameters()
    perturb_(ours)
    vjepa2.save(ours, tmp_path)
    theirs = transformers.VJEPA2ForVideoClassification.from_pretrained(tmp_path).eval()
    assert theirs.config.id2label == {0: "a", 1: "b", 2: "c"}
    x = video_for(config, 4)
    assert (ours(x).logits - theirs(pixel_values_videos=x).logits).abs().max().item() <= TOL
    hf_features = theirs.vjepa2.get_vision_features(x)
    assert (ours.backbone(x).last_hidden_state - hf_features).abs().max().item() <= TOL


@torch.no_grad()
def test_positions_come_from_the_actual_grid(tmp_path):
    """At another square resolution we equal transformers configured for that resolution: RoPE
    positions follow the input, not the checkpoint's crop size."""
    torch.manual_seed(4)
    config = CONFIGS["hd32"]
    theirs = transformers.VJEPA2Model(hf_config(config.replace(crop_size=96))).eval()
    perturb_(theirs)
    theirs.save_pretrained(tmp_path)
    ours = vjepa2.load(tmp_path, config=config)  # our config says 64 px; the input is 96 px
    x = torch.randn(1, 4, 3, 96, 96)
    expected = theirs.get_vision_features(x)
    assert (ours(x).last_hidden_state - expected).abs().max().item() <= TOL
