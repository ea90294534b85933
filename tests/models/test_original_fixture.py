"""Every tensor of ../shared/fixtures/original/tiny_square/case.pt, made by Meta's original code."""

import pytest
import torch

import vjepa2
from tests.conftest import fixture_path
from tests.models.parity_cases import original_config, original_errors

TOL = 1e-5


@pytest.fixture(scope="module")
def case():
    return torch.load(fixture_path("original", "tiny_square", "case.pt"), weights_only=True)


@pytest.fixture(scope="module")
def config(case):
    return original_config(case["cfg"])


@pytest.fixture(scope="module")
def video(case):
    return case["video_bcthw"].transpose(1, 2)  # [B, C, T, H, W] -> [B, T, C, H, W]


def max_err(a, b):
    return (a - b).abs().max().item()


@torch.no_grad()
def test_encoder_and_predictor(case, config, video):
    model = vjepa2.load(fixture_path("original", "tiny_square", "checkpoint.pt"), config=config)
    assert max_err(model(video).last_hidden_state, case["encoder_out"]) <= TOL
    out = model(video, context_idx=[case["context_idx"]], target_idx=[case["target_idx"]])
    assert out.last_hidden_state is None
    assert max_err(out.masked_hidden_state, case["masked_encoder_out"]) <= TOL
    assert max_err(out.predictor_output, case["predictor_out"]) <= TOL


@torch.no_grad()
def test_target_encoder_is_a_different_network(case, config, video):
    path = fixture_path("original", "tiny_square", "checkpoint.pt")
    model = vjepa2.load(path, config=config, checkpoint_key="target_encoder")
    assert max_err(model(video).last_hidden_state, case["encoder_out"]) > 1e-2


@torch.no_grad()
def test_classifier(case, config, video):
    model = vjepa2.load(
        fixture_path("original", "tiny_square", "checkpoint.pt"),
        config=config,
        classifier=fixture_path("original", "tiny_square", "classifier.pt"),
        classifier_heads=case["cfg"]["cheads"],
    )
    assert isinstance(model, vjepa2.VJEPA2ForVideoClassification)
    assert model.config.num_labels == case["cfg"]["classes"]
    assert max_err(model(video).logits, case["classifier_logits"]) <= TOL


@torch.no_grad()
def test_classifier_head_count_matters(case, config, video):
    """Same weight shapes with another head count load fine but compute something else."""
    model = vjepa2.load(
        fixture_path("original", "tiny_square", "checkpoint.pt"),
        config=config,
        classifier=fixture_path("original", "tiny_square", "classifier.pt"),
        classifier_heads=16,
    )
    assert max_err(model(video).logits, case["classifier_logits"]) > 1e-4


def test_the_benchmark_measures_what_these_tests_do():
    """benchmarks/parity.py prints these numbers for docs/models.md."""
    errors = original_errors(fixture_path("original", "tiny_square"))
    assert set(errors) == {"encoder", "masked encoder", "predictor", "probe logits"}
    assert max(errors.values()) <= TOL
