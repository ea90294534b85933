"""LoRA fine-tuning (``train-probe --lora-rank``), ``merge-adapter`` and gradient checkpointing."""

import json
import sys

import pytest
import torch
from typer.testing import CliRunner

import vjepa2
from tests.conftest import tiny_config
from vjepa2.cli import app
from vjepa2.data.motion import TRANSLATION_CLASSES, MotionSettings, make_motion_dataset
from vjepa2.errors import UsageError
from vjepa2.files import new_file_mode
from vjepa2.inference.records import weights_fingerprint
from vjepa2.models.classifier import AttentiveClassifier
from vjepa2.presets import architecture
from vjepa2.train import lora
from vjepa2.train.probe_settings import ProbeSettings

peft = pytest.importorskip("peft")
runner = CliRunner()

TOY = MotionSettings(distractors=(0, 0), noise=(0, 0), background_contrast=(0, 0), grain=(0, 0),
                     speed=(3.0, 4.0))  # fmt: skip


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    counts = {"train": 8, "val": 4, "test": 4}
    make_motion_dataset(root, seed=1, classes=TRANSLATION_CLASSES, counts=counts, settings=TOY)
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random-init 2-layer encoder (+ predictor) in the HF format."""
    torch.manual_seed(0)
    config = architecture("vit-tiny", hidden_size=96, num_hidden_layers=2, crop_size=64,
                          frames_per_clip=16, pred_hidden_size=48, pred_num_attention_heads=3,
                          pred_num_hidden_layers=1)  # fmt: skip
    model = vjepa2.build_model(config)
    model.reset_parameters()
    path = tmp_path_factory.mktemp("tiny")
    vjepa2.save(model, path)
    return path


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def probe_args(toy, tiny, out, *extra):
    return ("train-probe", "--train", toy / "train.csv", "--val", toy / "val.csv", "--test",
            toy / "test.csv", "-m", tiny, "-o", out, "--workers", 0, "-q", "--batch-size", 4,
            "--accumulation", 1, "--lr", "1e-2", "--flip", 0, "--cache-dtype", "fp32",
            *extra)  # fmt: skip


def metrics(out):
    return json.loads((out / "metrics.json").read_text())


def test_lora_settings():
    settings = ProbeSettings.from_recipe("card", lora_rank=4)
    assert not settings.cache and settings.trains_encoder  # implies --no-cache
    assert settings.lora_scale_alpha == 8.0 and settings.lora_targets == ("qkv", "proj")
    assert ProbeSettings.from_recipe("card", lora_rank=4, lora_alpha=4).lora_scale_alpha == 4.0
    with pytest.raises(UsageError, match="alternatives"):
        ProbeSettings.from_recipe("card", lora_rank=4, unfreeze=1)
    with pytest.raises(UsageError, match="choose from qkv, proj, fc1, fc2"):
        ProbeSettings.from_recipe("card", lora_rank=4, lora_targets=("qkv", "ffn"))
    with pytest.raises(UsageError, match="single probe"):
        ProbeSettings.from_recipe("paper", lora_rank=4)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--lora-rank", 4, "--lora-targets", "qkv,ffn"), "--lora-targets qkv,ffn"),
        (("--lora-rank", 4, "--unfreeze", 1), "alternatives"),
        (("--lora-rank", 4, "--lora-dropout", 1), "--lora-dropout"),
        (("--lora-rank", 4, "--lora-alpha", 0), "--lora-alpha"),
        (("--lora-rank", -1), "--lora-rank"),
    ],
)
def test_bad_lora_options_are_refused_before_any_work(args, words, tmp_path):
    result = runner.invoke(app, ["train-probe", "-m", "nowhere", "-o", str(tmp_path / "run"),
                                 "--data", "x.csv", *map(str, args)])  # fmt: skip
    assert result.exit_code == 2 and words in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_without_peft_a_one_line_usage_error(toy, tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(UsageError, match=r'pip install "vjepa2\[lora\]"'):
        lora.require_peft()
    result = runner.invoke(app, [*map(str, probe_args(toy, tiny, tmp_path, "--lora-rank", 4))])
    assert result.exit_code == 2 and 'pip install "vjepa2[lora]"' in result.output
    assert "Traceback" not in result.output and not (tmp_path / "run.json").exists()


def test_adapters_go_on_the_blocks_only_and_start_as_identity():
    torch.manual_seed(0)
    encoder = vjepa2.VJEPA2Model(tiny_config()).encoder.eval()
    x = torch.randn(2, 4, 3, 64, 64)
    with torch.no_grad():
        before = encoder(x)
    lora.add_lora(encoder, lora.lora_config(4, 8.0, 0.0, ("qkv", "proj", "fc2")))
    adapted = {n.rsplit(".lora_A", 1)[0] for n in lora.adapter_state(encoder) if ".lora_A" in n}
    assert adapted == {f"blocks.{i}.{layer}" for i in range(2)
                       for layer in ("attn.qkv", "attn.proj", "mlp.fc2")}  # fmt: skip
    trainable = [n for n, p in encoder.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_" in n for n in trainable)
    with torch.no_grad():
        assert torch.equal(encoder(x), before)  # B starts at zero


@pytest.mark.parametrize("adapt", ["lora", "unfreeze"])
def test_gradient_checkpointing_gives_the_same_loss_and_gradients(adapt):
    """Encoder (LoRA with dropout, or all blocks trainable) + probe, one backward with and one
    without checkpointing: the same loss and the same gradient on every trainable tensor."""
    torch.manual_seed(0)
    encoder = vjepa2.VJEPA2Model(tiny_config()).encoder
    if adapt == "lora":
        lora.add_lora(encoder, lora.lora_config(4, 8.0, 0.2, ("qkv", "proj")))
        for name, param in encoder.named_parameters():
            if ".lora_B" in name:  # B = 0 would make A's gradient zero either way
                torch.nn.init.normal_(param, std=0.1)
    probe = AttentiveClassifier(96, 4, num_heads=3)
    x, labels = torch.randn(2, 4, 3, 64, 64), torch.tensor([0, 3])
    trained = [p for p in encoder.parameters() if p.requires_grad]
    params = trained + list(probe.parameters())
    losses, grads = [], []
    for checkpointing in (False, True):
        encoder.gradient_checkpointing = checkpointing
        encoder.train()
        torch.manual_seed(1)  # the same dropout masks
        loss = torch.nn.functional.cross_entropy(probe(encoder(x)), labels)
        losses.append(loss.detach())
        grads.append(torch.autograd.grad(loss, params))
    assert losses[0] == losses[1]
    assert all(g.abs().sum() > 0 for g in grads[0][: len(trained)])  # every encoder tensor learns
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_lora_trains_saves_merges_and_reloads(toy, tiny, tmp_path):
    """The run's adapter loads in peft onto the base encoder; that peft model, the run's merged
    model/ and a merge-adapter output give the same outputs (<= 1e-5)."""
    out = tmp_path / "run"
    text = cli(*probe_args(toy, tiny, out, "--lora-rank", 4, "--epochs", 1,
                           "--grad-checkpointing"))  # fmt: skip
    assert "no-cache" in text
    assert (out / "adapter" / "adapter_config.json").exists()
    config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["lora_alpha"] == 8.0
    assert config["base_model_name_or_path"] == str(tiny.resolve())
    base, run_model = vjepa2.load(tiny), vjepa2.load(out / "model")
    peft_encoder = peft.PeftModel.from_pretrained(base.encoder, out / "adapter").eval()
    merged_dir = tmp_path / "merged"
    assert "wrote" in cli("merge-adapter", out / "adapter", merged_dir)  # base from the adapter
    merged = vjepa2.load(merged_dir)
    x = torch.randn(2, 16, 3, 64, 64)
    with torch.no_grad():
        ours = peft_encoder(x)
        assert (ours - vjepa2.load(tiny).encoder(x)).abs().max() > 1e-4  # the adapter trained
        assert (run_model.backbone.encoder(x) - ours).abs().max() <= 1e-5
        assert (merged.encoder(x) - ours).abs().max() <= 1e-5
        assert (run_model(x).logits - run_model.head(ours)).abs().max() <= 1e-5
    # Only the adapted layers changed; validation and test ran on the trained encoder.
    plain = vjepa2.load(tiny).encoder.state_dict()
    changed = {n for n, p in merged.encoder.state_dict().items() if not torch.equal(p, plain[n])}
    layers = ("qkv", "proj")
    assert changed == {f"blocks.{i}.attn.{layer}.weight" for i in range(2) for layer in layers}
    frozen = weights_fingerprint(vjepa2.load(tiny).encoder)
    for split in ("val", "test"):
        meta = json.loads((out / "features" / split / "meta.json").read_text())
        assert meta["encoder"] != frozen


def test_saving_an_adapter_looks_nothing_up_and_shares_its_file(tmp_path, recwarn):
    """An adapter of a preset (not a folder) saves without peft asking the Hub about it, its
    weights written atomically with the permissions of a plain new file."""
    encoder = vjepa2.VJEPA2Model(tiny_config()).encoder
    tuner = lora.add_lora(encoder, lora.lora_config(2, 4.0, 0.0, ("qkv",), base_model="demo"))
    lora.save_adapter(tuner, tmp_path / "adapter")
    assert lora.adapter_base(tmp_path / "adapter") == "demo"
    weights = tmp_path / "adapter" / "adapter_model.safetensors"
    assert weights.stat().st_mode & 0o777 == new_file_mode()  # not safetensors' 0600
    assert not [w for w in recwarn if "peft" in w.filename], [str(w.message) for w in recwarn]


def test_merge_adapter_refuses_what_does_not_fit(toy, tiny, tmp_path):
    other = tmp_path / "other"
    vjepa2.save(vjepa2.build_model(tiny_config(hidden_size=48)), other)
    adapter = tmp_path / "adapter"
    encoder = vjepa2.load(tiny).encoder
    tuner = lora.add_lora(encoder, lora.lora_config(2, 4.0, 0.0, ("qkv",), base_model=None))
    lora.save_adapter(tuner, adapter)
    unnamed = runner.invoke(app, ["merge-adapter", str(adapter), str(tmp_path / "m")])
    assert unnamed.exit_code == 2 and "--base" in unnamed.output
    wrong = runner.invoke(app, ["merge-adapter", str(adapter), str(tmp_path / "m"), "--base",
                                str(other)])  # fmt: skip
    assert wrong.exit_code == 2 and "does not fit" in wrong.output
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_lora_resume_is_exact_and_identity_checked(toy, tiny, tmp_path):
    """One epoch, then --resume for a second equals two epochs in one go (adapters, optimizer
    and dropout RNG restored); a resume with another rank is refused naming it, one with
    --grad-checkpointing (same computation) is not."""
    extra = ("--lora-rank", 2, "--lora-dropout", 0.1, "--lora-targets", "qkv,fc1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # bit-equal float sums need the same work split
    try:
        whole, cut = tmp_path / "whole", tmp_path / "cut"
        cli(*probe_args(toy, tiny, whole, *extra, "--epochs", 2))
        cli(*probe_args(toy, tiny, cut, *extra, "--epochs", 1))
        other = runner.invoke(app, [*map(str, probe_args(toy, tiny, cut, "--lora-rank", 4,
                                                         "--epochs", 2, "--resume",
                                                         "--allow-change", "epochs"))])  # fmt: skip
        assert other.exit_code == 2 and "lora-rank: 2 -> 4" in other.output
        cli(*probe_args(toy, tiny, cut, *extra, "--epochs", 2, "--resume", "--allow-change",
                        "epochs", "--grad-checkpointing"))  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    a, b = metrics(whole), metrics(cut)
    assert a["history"] == b["history"] and a["test"] == b["test"]
    for name in ("adapter/adapter_model.safetensors", "model/model.safetensors"):
        assert (whole / name).read_bytes() == (cut / name).read_bytes()
