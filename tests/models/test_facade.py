"""The public facade: ``vjepa2.embed`` / ``vjepa2.classify`` take a model or anything
``vjepa2.load`` takes; no model class has an ``embed`` or ``save_pretrained`` method."""

import torch

import vjepa2
from tests.weights.test_loading import random_model
from vjepa2.video.synthetic import signature_frames


def test_embed_takes_a_model_or_a_source(tmp_path):
    model = random_model()
    vjepa2.save(model, tmp_path / "model")
    frames = signature_frames(4, 64, 96)
    given = vjepa2.embed(frames, model)
    loaded = vjepa2.embed(frames, str(tmp_path / "model"))
    assert given.tokens.shape == (2, 4, 4, 96) and given.pooled.shape == (96,)
    torch.testing.assert_close(given.tokens, loaded.tokens)
    with torch.no_grad():
        expected = model(model.transform(frames)[None]).last_hidden_state[0]
    torch.testing.assert_close(given.tokens.reshape(-1, 96), expected)


def test_models_carry_no_upward_methods():
    for cls in (vjepa2.VJEPA2Model, vjepa2.VJEPA2ForVideoClassification):
        assert not hasattr(cls, "embed") and not hasattr(cls, "save_pretrained")
    assert all(hasattr(vjepa2, name) for name in vjepa2.__all__)
