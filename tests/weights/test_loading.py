"""Loading checkpoints: HF directories (single and sharded), the Hub cache, original .pt files."""

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

import vjepa2
from tests.conftest import tiny_config
from vjepa2.errors import VJEPA2Error
from vjepa2.weights import (
    CLASSIFIER_KEYS,
    VJEPA2_KEYS,
    CheckpointError,
    from_hf,
    save_original,
    to_hf,
)


def random_model(classifier=False, **overrides):
    config = tiny_config(**overrides)
    if classifier:
        config = config.replace(id2label={0: "left", 1: "right", 2: "up"})
    model = vjepa2.build_model(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05)
    return model


def same_outputs(a, b, frames=4):
    x = torch.randn(2, frames, 3, a.config.crop_size, a.config.crop_size)
    with torch.no_grad():
        if isinstance(a, vjepa2.VJEPA2ForVideoClassification):
            return torch.equal(a(x).logits, b(x).logits)
        return torch.equal(a(x).last_hidden_state, b(x).last_hidden_state)


@pytest.mark.parametrize("classifier", [False, True])
def test_hf_round_trip(tmp_path, classifier):
    model = random_model(classifier)
    vjepa2.save(model, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {
        "config.json",
        "model.safetensors",
        "video_preprocessor_config.json",
    }
    loaded = vjepa2.load(tmp_path)
    assert type(loaded) is type(model)
    assert loaded.config.to_dict() == model.config.to_dict()
    assert same_outputs(model, loaded)


def test_saved_files_get_the_usual_permissions(tmp_path):
    """safetensors alone writes 0600 files; ours follow the umask like any new file."""
    old = os.umask(0o022)
    try:
        vjepa2.save(random_model(), tmp_path / "one")
        vjepa2.save(random_model(), tmp_path / "sharded", max_shard_size="200KB")
    finally:
        os.umask(old)
    weights = [*tmp_path.glob("*/model*.safetensors")]
    assert len(weights) > 2
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in weights)


def test_sharded_checkpoint(tmp_path):
    model = random_model()
    vjepa2.save(model, tmp_path, max_shard_size="200KB")
    shards = sorted(p.name for p in tmp_path.glob("model-*.safetensors"))
    assert len(shards) > 1 and (tmp_path / "model.safetensors.index.json").exists()
    assert same_outputs(model, vjepa2.load(tmp_path))
    os.remove(tmp_path / shards[0])
    with pytest.raises(FileNotFoundError, match="missing"):
        vjepa2.load(tmp_path)


def test_strict_loading_lists_every_problem(tmp_path):
    model = random_model()
    vjepa2.save(model, tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    del weights["encoder.layer.1.mlp.fc2.bias"]
    weights["encoder.layer.0.norm1.weight"] = torch.ones(7)
    weights["encoder.extra_thing"] = torch.ones(1)
    save_file(weights, tmp_path / "model.safetensors")
    with pytest.raises(ValueError) as err:
        vjepa2.load(tmp_path)
    assert "encoder.extra_thing" in str(err.value)  # the key map refuses unknown names
    # ... in the same error as every other problem, keys named as the file names them.
    assert isinstance(err.value, CheckpointError) and isinstance(err.value, VJEPA2Error)
    message = str(err.value)
    assert "unexpected (1)" in message and "missing (1)" in message
    assert "encoder.layer.1.mlp.fc2.bias (model: encoder.blocks.1.mlp.fc2.bias)" in message
    assert "wrong shape (1)" in message and "encoder.layer.0.norm1.weight" in message
    del weights["encoder.extra_thing"]
    save_file(weights, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError) as err:
        vjepa2.load(tmp_path)
    message = str(err.value)
    assert str(tmp_path) in message
    assert "missing (1)" in message and "encoder.blocks.1.mlp.fc2.bias" in message
    assert "wrong shape (1)" in message and "checkpoint [7] vs model [96]" in message


def test_checkpoint_without_predictor(tmp_path):
    model = random_model()
    weights = {
        k: v for k, v in to_hf(model.state_dict(), VJEPA2_KEYS).items() if "predictor" not in k
    }
    model.config.save(tmp_path)
    save_file(weights, tmp_path / "model.safetensors")
    loaded = vjepa2.load(tmp_path)
    assert loaded.predictor is None
    assert same_outputs(model, loaded)
    del weights["encoder.layernorm.bias"]
    save_file(weights, tmp_path / "model.safetensors")
    with pytest.raises(
        CheckpointError, match=r"encoder\.layernorm\.bias \(model: encoder\.norm\.bias"
    ):
        vjepa2.load(tmp_path)


def test_partial_predictor_is_an_error(tmp_path):
    model = random_model()
    weights = to_hf(model.state_dict(), VJEPA2_KEYS)
    del weights["predictor.proj.weight"]
    model.config.save(tmp_path)
    save_file(weights, tmp_path / "model.safetensors")
    with pytest.raises(
        CheckpointError, match=r"predictor\.proj\.weight \(model: predictor\.predictor_proj\."
    ):
        vjepa2.load(tmp_path)


def test_key_maps_are_inverse():
    for classifier, keys in ((False, VJEPA2_KEYS), (True, CLASSIFIER_KEYS)):
        state = random_model(classifier).state_dict()
        back = from_hf(to_hf(state, keys), keys)
        assert back.keys() == state.keys()
        assert all(torch.equal(back[k], state[k]) for k in state)


def test_dtype_and_legacy_bin(tmp_path):
    model = random_model()
    vjepa2.save(model, tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    os.remove(tmp_path / "model.safetensors")
    torch.save(weights, tmp_path / "pytorch_model.bin")
    loaded = vjepa2.load(tmp_path, dtype=torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in loaded.parameters())


def test_original_prefixes_and_keys(tmp_path):
    model = random_model()
    path = save_original(model, tmp_path / "ckpt.pt")
    checkpoint = torch.load(path, weights_only=True)
    assert set(checkpoint) == {"encoder", "target_encoder", "predictor", "config"}
    assert same_outputs(model, vjepa2.load(path))  # the stored config describes the model
    del checkpoint["config"]
    assert all(k.startswith("module.backbone.") for k in checkpoint["encoder"])
    # Extra wrappers and the unused sincos table are tolerated, as in the released files.
    checkpoint["encoder"] = {"module." + k: v for k, v in checkpoint["encoder"].items()}
    checkpoint["encoder"]["module.module.backbone.pos_embed"] = torch.zeros(1, 32, 96)
    torch.save(checkpoint, path)
    assert same_outputs(model, vjepa2.load(path, config=model.config))
    with pytest.raises(CheckpointError, match="ema_model"):
        vjepa2.load(path, config=model.config, checkpoint_key="ema_model")


def test_original_classifier_round_trip(tmp_path):
    model = random_model(classifier=True, classifier_num_heads=4, classifier_layer_norm_eps=1e-5)
    path = save_original(model, tmp_path / "probe_and_encoder.pt")
    loaded = vjepa2.load(
        path, config=tiny_config(), classifier=path, classifier_heads=4, id2label=model.id2label
    )
    assert loaded.config.to_dict() == model.config.to_dict()
    assert same_outputs(model, loaded)


def test_weights_only_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"encoder": {"x": torch.ones(1)}, "payload": os.getcwd}, path)
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint"):
        vjepa2.load(path)


def test_infers_architecture_of_released_widths(tmp_path):
    """A 384-wide (ViT-S sized) encoder + predictor: heads come from the width table."""
    model = random_model(
        hidden_size=384, num_attention_heads=6, num_hidden_layers=1, crop_size=256,
        pred_hidden_size=384, pred_num_attention_heads=12, pred_num_hidden_layers=1,
    )  # fmt: skip
    path = save_original(model, tmp_path / "small.pt")
    loaded = vjepa2.load(path)
    assert loaded.config.num_attention_heads == 6 and loaded.config.pred_num_mask_tokens == 10
    checkpoint = torch.load(save_original(random_model(), tmp_path / "tiny.pt"), weights_only=True)
    del checkpoint["config"]
    torch.save(checkpoint, tmp_path / "tiny.pt")
    with pytest.raises(ValueError, match="head count"):
        vjepa2.load(tmp_path / "tiny.pt")


def test_unknown_source():
    with pytest.raises(FileNotFoundError, match="not a preset"):
        vjepa2.load("no/such/thing.pt")


def make_hub_cache(cache, repo_id, revisions):
    """A huggingface_hub cache laid out as the library writes it: refs/<rev> -> snapshots/<sha>."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    for i, (revision, model) in enumerate(revisions.items()):
        sha = f"{i + 1:040x}"
        vjepa2.save(model, repo / "snapshots" / sha)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / revision).write_text(sha)


def test_hub_id_from_the_offline_cache(tmp_path):
    torch.manual_seed(0)
    main, tagged = random_model(), random_model()
    make_hub_cache(tmp_path, "someone/tiny-vjepa2", {"main": main, "v2": tagged})
    x = torch.randn(1, 2, 3, 64, 64)
    code = (
        "import sys, torch, vjepa2\n"
        "x = torch.load(sys.argv[1])\n"
        "for rev in (None, 'v2'):\n"
        "    m = vjepa2.load('someone/tiny-vjepa2', revision=rev)\n"
        "    print(m(x).last_hidden_state.sum().item())\n"
    )
    torch.save(x, tmp_path / "x.pt")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "x.pt")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    got = [float(v) for v in result.stdout.split()]
    with torch.no_grad():
        want = [m(x).last_hidden_state.sum().item() for m in (main, tagged)]
    assert got == pytest.approx(want, abs=1e-4)
    assert got[0] != pytest.approx(got[1])


def test_config_round_trip_keeps_unknown_keys(tmp_path):
    model = random_model()
    vjepa2.save(model, tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    data["transformers_version"] = "9.9.9"
    data["torch_dtype"] = "float32"
    (tmp_path / "config.json").write_text(json.dumps(data))
    config = vjepa2.VJEPA2Config.from_json_file(tmp_path / "config.json")
    assert config.to_dict()["transformers_version"] == "9.9.9"
    assert not config.is_classifier
