"""`train-probe` and `classify` with a V-JEPA 2.1 backbone (the attentive probe over the last
level's tokens), end to end on a tiny model; `pretrain` refusing a 2.1 checkpoint."""

import json

import pytest
import torch
from typer.testing import CliRunner

import vjepa2
from tests.models.test_vjepa2_1 import random_model
from vjepa2.cli import app
from vjepa2.errors import UsageError
from vjepa2.models.vjepa2_1 import VJEPA21ForVideoClassification
from vjepa2.train.pretrain import load_init
from vjepa2.train.probe import _unfreeze
from vjepa2.video.writer import encode_video


def cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def coloured_clips(root, name: str, count: int) -> list[str]:
    """``count`` short clips per class: bright ("light") or dark ("dark") noisy frames."""
    lines = []
    generator = torch.Generator().manual_seed(len(name))
    for label, level in (("light", 200), ("dark", 40)):
        for i in range(count):
            noise = torch.randint(-30, 30, (4, 64, 64, 3), generator=generator)
            frames = (level + noise).clamp(0, 255).to(torch.uint8)
            path = encode_video(root / f"{name}-{label}-{i}.mp4", frames, fps=4)
            lines.append(f"{path} {label}")
    (root / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return lines


@pytest.fixture(scope="module")
def v21_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("v21probe")
    model = random_model()
    vjepa2.save(model, root / "backbone")
    for name, count in (("train", 4), ("val", 2), ("test", 2)):
        coloured_clips(root, name, count)
    cli("train-probe", "--train", root / "train.txt", "--val", root / "val.txt", "--test",
        root / "test.txt", "-m", root / "backbone", "-o", root / "run", "--workers", 0, "-q",
        "--epochs", 3, "--lr", "1e-3", "--batch-size", 4, "--accumulation", 1,
        "--probe-blocks", 1)  # fmt: skip
    return root, model


def test_train_probe_on_a_v21_backbone_exports_a_v21_classifier(v21_run):
    root, backbone = v21_run
    metrics = json.loads((root / "run" / "metrics.json").read_text())
    assert metrics["num_examples"] == {"train": 8, "val": 4, "test": 4}
    assert len(metrics["history"]) == 3
    assert metrics["history"][-1]["train_loss"] < metrics["history"][0]["train_loss"]
    cache = json.loads((root / "run" / "features" / "val" / "meta.json").read_text())
    assert cache["shape"] == [4, 1, 2 * 4 * 4, 64]  # the last level's [T'*H'*W', D] tokens
    config = json.loads((root / "run" / "model" / "config.json").read_text())
    assert config["model_type"] == "vjepa2_1" and config["num_pooler_layers"] == 1
    assert set(config["id2label"].values()) == {"light", "dark"}
    model = vjepa2.load(root / "run" / "model")
    assert isinstance(model, VJEPA21ForVideoClassification)
    for name, value in backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[name], value), name
    x = torch.randn(2, 4, 3, 64, 64)
    with torch.no_grad():
        out = model(x)
        assert torch.allclose(out.last_hidden_state, backbone(x).last_hidden_state, atol=1e-6)
        assert torch.allclose(out.logits, model.head(backbone(x).last_hidden_state), atol=1e-5)
        assert model(x[:, :1]).logits.shape == (2, 2)  # an image: the image path


def test_classify_and_embed_with_the_v21_classifier(v21_run):
    root, _ = v21_run
    text = cli("classify", root / "test-dark-0.mp4", "-m", root / "run" / "model", "--workers", 0,
               "--json")  # fmt: skip
    record = json.loads(text.strip().splitlines()[-1])
    assert record["error"] is None and {t["label"] for t in record["top_k"]} == {"light", "dark"}
    model = vjepa2.load(root / "run" / "model")
    top = vjepa2.classify(root / "test-dark-0.mp4", model, top_k=1)
    assert top[0][0] == record["top_k"][0]["label"]
    embedding = vjepa2.embed(root / "test-dark-0.mp4", model)  # pooled: the attentive pooler's
    with torch.no_grad():
        expected = model.head.pool(embedding.tokens.flatten(0, 2)[None])[0]
    assert torch.allclose(embedding.pooled, expected, atol=1e-5)


def test_a_v21_classifier_saves_as_a_folder_only(v21_run, tmp_path):
    root, _ = v21_run
    model = vjepa2.load(root / "run" / "model")
    vjepa2.save(model, tmp_path / "again")
    assert isinstance(vjepa2.load(tmp_path / "again"), VJEPA21ForVideoClassification)
    with pytest.raises(vjepa2.CheckpointError, match="saved as a folder"):
        vjepa2.save(model, tmp_path / "probe.pt")


def test_pretrain_refuses_a_v21_checkpoint_in_one_line(tmp_path):
    vjepa2.save(random_model(), tmp_path / "v21")
    with pytest.raises(UsageError, match=r"2\.1 loss") as err:
        load_init(str(tmp_path / "v21"))
    assert "\n" not in str(err.value)


def test_unfreezing_a_v21_encoder_trains_its_last_blocks_and_last_level_norm():
    encoder = random_model().encoder.requires_grad_(False)
    trainable = _unfreeze(encoder, 1)
    assert trainable[-1] is encoder.norms_block[-1] and trainable[0] is encoder.blocks[-1]
    assert all(p.requires_grad for p in trainable.parameters())
    assert not any(p.requires_grad for p in encoder.norms_block[0].parameters())
