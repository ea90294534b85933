"""The model-family registry: one class and key map per family, detection from the checkpoint."""

import pytest
import torch

import vjepa2
from tests.conftest import tiny_config
from tests.weights.test_loading import random_model, same_outputs
from vjepa2.weights import families
from vjepa2.weights.families import ModelFamily, family_for_config, register
from vjepa2.weights.keymaps import KeyMap


def test_each_config_builds_its_family():
    plain = tiny_config()
    labelled = plain.replace(id2label={0: "a", 1: "b"})
    assert family_for_config(plain).name == "vjepa2"
    assert family_for_config(labelled).name == "vjepa2_classifier"
    assert type(vjepa2.build_model(plain)) is vjepa2.VJEPA2Model
    assert type(vjepa2.build_model(labelled)) is vjepa2.VJEPA2ForVideoClassification
    with pytest.raises(vjepa2.CheckpointError, match="model_type 'vjepa9' is known"):
        vjepa2.build_model(plain.replace(model_type="vjepa9"))


def test_every_model_reaches_its_encoder():
    for model in (random_model(), random_model(classifier=True)):
        assert isinstance(model.encoder, vjepa2.models.VJEPA2Encoder)
        x = torch.randn(1, 2, 3, 64, 64)
        with torch.no_grad():
            assert model.encoder(x).shape == (1, 16, 96)
    classifier = random_model(classifier=True)
    assert classifier.encoder is classifier.backbone.encoder


class _Wide(vjepa2.VJEPA2Model):
    """A stand-in for a new family: the V-JEPA 2 model plus a parameter of its own."""

    def __init__(self, config, with_predictor=True):
        super().__init__(config, with_predictor)
        self.encoder.extra_marker = torch.nn.Parameter(torch.zeros(1))


@pytest.fixture
def extra_family(monkeypatch):
    monkeypatch.setattr(families, "_FAMILIES", dict(families._FAMILIES))
    return register(
        ModelFamily(
            name="test_wide",
            model_type="test_wide",
            model_class=_Wide,
            keys=KeyMap(hf=(), original={"encoder": "encoder.", "predictor": "predictor."}),
            holds=lambda keys: "extra_marker" in keys.get("encoder", ()),
            infer_config=lambda parts, filename: tiny_config(model_type="test_wide"),
        )
    )


def without_config(path):
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint["config"]
    torch.save(checkpoint, path)
    return path


def test_a_registered_family_is_detected_from_what_the_checkpoint_holds(tmp_path, extra_family):
    model = random_model()
    plain = {"encoder": {"patch_embed.proj.weight", "norm.weight"}, "predictor": {"x"}}
    assert families.family_for_original(plain, "plain").name == "vjepa2"  # not claimed
    marked = {"encoder": {"patch_embed.proj.weight", "extra_marker"}}
    assert families.family_for_original(marked, "marked").name == "test_wide"
    wide = _Wide(model.config.replace(model_type="test_wide"))
    wide.load_state_dict(model.state_dict() | {"encoder.extra_marker": torch.ones(1)})
    assert isinstance(vjepa2.build_model(wide.config), _Wide)
    stored = vjepa2.load(vjepa2.save(wide, tmp_path / "wide.pt"))  # by the config it carries
    assert type(stored) is _Wide and same_outputs(wide, stored)
    detected = vjepa2.load(without_config(tmp_path / "wide.pt"))  # by its keys
    assert type(detected) is _Wide and detected.config.model_type == "test_wide"
    assert same_outputs(wide, detected)
    # Told it is a plain V-JEPA 2 model, the marker is refused by name.
    with pytest.raises(vjepa2.CheckpointError, match=r"encoder\[module\.backbone\.extra_marker\]"):
        vjepa2.load(tmp_path / "wide.pt", config=model.config)
    with pytest.raises(vjepa2.CheckpointError, match="no Hugging Face"):
        vjepa2.save(wide, tmp_path / "hf")
