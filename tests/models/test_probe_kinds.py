"""Every released probe kind in Meta's original layout: single-level, 4-level ("multilevel":
blocks through the final norm, concatenated along the token axis) and the EK100
action-anticipation probe (3 queries, verb/noun/action heads, encoder + predictor tokens).

The 4-level probe is checked against a reference written here from the original layout's math
(the tapped blocks' outputs, ``F.layer_norm`` with the file's final norm, the pooler and head
from the file's tensors); EK100 against ../shared/fixtures/original/tiny_ek100 (Meta's code).
"""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

import vjepa2
from tests.conftest import fixture_path
from vjepa2 import CheckpointError, VJEPA2Config
from vjepa2.cli import app
from vjepa2.models.levels import PAPER_LEVELS, resolve_levels
from vjepa2.models.model import VJEPA2ForActionAnticipation
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.writer import encode_video
from vjepa2.weights import hf
from vjepa2.weights.keymaps import ORIGINAL_WRAPPERS

TOL = 1e-5


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


# -- the EK100 fixture ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ek100():
    return torch.load(fixture_path("original", "tiny_ek100", "case.pt"), weights_only=True)


def ek100_config(cfg: dict) -> VJEPA2Config:
    return VJEPA2Config(
        hidden_size=cfg["dim"], num_hidden_layers=cfg["depth"], num_attention_heads=cfg["heads"],
        crop_size=cfg["img"], frames_per_clip=cfg["frames"], pred_hidden_size=cfg["pdim"],
        pred_num_hidden_layers=cfg["pdepth"], pred_num_attention_heads=cfg["pheads"],
    )  # fmt: skip


def load_ek100(case, **kwargs):
    return vjepa2.load(
        fixture_path("original", "tiny_ek100", "checkpoint.pt"),
        config=ek100_config(case["cfg"]),
        checkpoint_key="target_encoder",
        classifier=fixture_path("original", "tiny_ek100", "classifier.pt"),
        classifier_heads=case["cfg"]["cheads"],
        **kwargs,
    )


@torch.no_grad()
def test_ek100_probe_equals_the_original(ek100):
    model = load_ek100(ek100)
    assert isinstance(model, VJEPA2ForActionAnticipation)
    cfg = ek100["cfg"]
    assert model.config.classifier_tasks == [
        ("verb", cfg["verbs"]), ("noun", cfg["nouns"]), ("action", cfg["actions"])
    ]  # fmt: skip
    video = ek100["video_bcthw"].transpose(1, 2)
    assert max_err(model.encoder(video), ek100["encoder_out"]) <= TOL
    out = model(video, anticipation=ek100["anticipation_s"])
    assert out.last_hidden_state.shape == ek100["anticipated"].shape
    assert max_err(out.last_hidden_state, ek100["anticipated"]) <= TOL
    for task in ("verb", "noun", "action"):
        assert max_err(out.logits[task], ek100[f"{task}_logits"]) <= TOL


@torch.no_grad()
def test_ek100_anticipation_time_moves_the_predicted_frame(ek100):
    """The fixture's two samples anticipate 0.5 s and 1 s: one time for both changes sample 0."""
    model = load_ek100(ek100)
    video = ek100["video_bcthw"].transpose(1, 2)
    same = model.anticipate(video, anticipation=1.0)
    assert max_err(same[1], ek100["anticipated"][1]) <= TOL
    assert max_err(same[0], ek100["anticipated"][0]) > 1e-3


@torch.no_grad()
def test_ek100_model_saves_and_loads_in_both_formats(ek100, tmp_path):
    model = load_ek100(ek100)
    video = ek100["video_bcthw"].transpose(1, 2)
    expected = model(video, anticipation=ek100["anticipation_s"]).logits
    for target in (tmp_path / "ek100.pt", tmp_path / "ek100-folder"):
        vjepa2.save(model, target)
        again = vjepa2.load(target, classifier=target if target.suffix else None)
        assert isinstance(again, VJEPA2ForActionAnticipation)
        got = again(video, anticipation=ek100["anticipation_s"]).logits
        assert all(max_err(got[t], expected[t]) == 0 for t in expected)


def test_ek100_probe_without_a_predictor_is_a_clear_error(ek100, tmp_path):
    checkpoint = torch.load(
        fixture_path("original", "tiny_ek100", "checkpoint.pt"), weights_only=True
    )
    encoder_only = tmp_path / "encoder.pt"
    torch.save({"target_encoder": checkpoint["target_encoder"]}, encoder_only)
    with pytest.raises(CheckpointError, match=r"verb, noun, action heads.*no predictor") as err:
        vjepa2.load(
            encoder_only, config=ek100_config(ek100["cfg"]), checkpoint_key="target_encoder",
            classifier=fixture_path("original", "tiny_ek100", "classifier.pt"),
        )  # fmt: skip
    assert "\n" not in str(err.value)


def test_ek100_probe_takes_no_levels(ek100):
    with pytest.raises(CheckpointError, match="anticipation probe reads the last block"):
        load_ek100(ek100, layers=2)


# -- tiny original-layout models for the 4-level probe ----------------------------------------

# (width, depth, encoder heads, probe heads, crop, frames): several shapes, including the
# ViT-L depth whose 4 taps are the paper's.
SHAPES = {
    "d4-w96": (96, 4, 3, 4, 64, 4),
    "d6-w64-48px": (64, 6, 2, 2, 48, 6),
    "vitl-depth": (32, 24, 2, 4, 32, 2),
}


def original_files(tmp_path, shape, classes: int = 5, name: str = "probe.pt"):
    """An encoder and a probe of random weights in Meta's layout; returns their paths, the
    config and the raw probe state dict (without wrappers)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    width, depth, heads, probe_heads, crop, frames = shape
    config = VJEPA2Config(
        hidden_size=width, num_hidden_layers=depth, num_attention_heads=heads, crop_size=crop,
        frames_per_clip=frames, pred_hidden_size=32, pred_num_hidden_layers=1,
        pred_num_attention_heads=2, id2label={i: f"c{i}" for i in range(classes)},
        classifier_num_heads=probe_heads, classifier_layer_norm_eps=1e-5,
    )  # fmt: skip
    torch.manual_seed(3)
    model = vjepa2.build_model(config, with_predictor=False)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    encoder = {ORIGINAL_WRAPPERS["encoder"] + k: v for k, v in model.encoder.state_dict().items()}
    probe = {k: v.clone() for k, v in model.head.state_dict().items()}
    torch.save({"encoder": encoder, "epoch": 1}, tmp_path / "encoder.pt")
    wrapped = {ORIGINAL_WRAPPERS["classifier"] + k: v for k, v in probe.items()}
    torch.save({"classifiers": [wrapped], "epoch": 1}, tmp_path / name)
    return tmp_path / "encoder.pt", tmp_path / name, config.replace(id2label=None), probe


def reference_levels(encoder, encoder_state, video, blocks) -> torch.Tensor:
    """The original multilevel features: each tapped block's output through the final norm
    (the file's ``norm.weight``/``norm.bias``), concatenated along the token axis."""
    outputs = {}
    hooks = [
        encoder.blocks[i].register_forward_hook(lambda m, a, out, i=i: outputs.__setitem__(i, out))
        for i in blocks
    ]
    encoder(video)  # the plain forward, tested against Meta's code in test_original_fixture
    for hook in hooks:
        hook.remove()
    w, b = encoder_state["module.backbone.norm.weight"], encoder_state["module.backbone.norm.bias"]
    eps = encoder.config.layer_norm_eps
    normed = [F.layer_norm(outputs[i], w.shape, w, b, eps) for i in blocks]
    return torch.cat(normed, dim=1)


def _attention(q, k, v, heads):
    b, nq, d = q.shape
    split = lambda x: x.view(b, x.size(1), heads, d // heads).transpose(1, 2)  # noqa: E731
    scores = split(q) @ split(k).transpose(-1, -2) / math.sqrt(d // heads)
    return (scores.softmax(-1) @ split(v)).transpose(1, 2).reshape(b, nq, d)


def reference_probe(p: dict, tokens: torch.Tensor, heads: int, eps: float = 1e-5):
    """The original AttentiveClassifier from its state dict: 3 pre-norm self-attention blocks
    (fused qkv), a cross-attention block (queries not normed, kv fused, no output projection),
    the linear head on the squeezed query."""

    def ln(x, name):
        return F.layer_norm(x, x.shape[-1:], p[f"{name}.weight"], p[f"{name}.bias"], eps)

    def mlp(x, name):
        hidden = F.gelu(F.linear(x, p[f"{name}.fc1.weight"], p[f"{name}.fc1.bias"]))
        return F.linear(hidden, p[f"{name}.fc2.weight"], p[f"{name}.fc2.bias"])

    x = tokens
    depth = len({k.split(".")[2] for k in p if k.startswith("pooler.blocks.")})
    for i in range(depth):
        blk = f"pooler.blocks.{i}"
        qkv = F.linear(
            ln(x, f"{blk}.norm1"), p[f"{blk}.attn.qkv.weight"], p[f"{blk}.attn.qkv.bias"]
        )
        attn = _attention(*qkv.chunk(3, dim=-1), heads)
        x = x + F.linear(attn, p[f"{blk}.attn.proj.weight"], p[f"{blk}.attn.proj.bias"])
        x = x + mlp(ln(x, f"{blk}.norm2"), f"{blk}.mlp")
    cab = "pooler.cross_attention_block"
    q = p["pooler.query_tokens"].expand(x.size(0), -1, -1)
    kv = F.linear(ln(x, f"{cab}.norm1"), p[f"{cab}.xattn.kv.weight"], p[f"{cab}.xattn.kv.bias"])
    k, v = kv.chunk(2, dim=-1)
    q = q + _attention(F.linear(q, p[f"{cab}.xattn.q.weight"], p[f"{cab}.xattn.q.bias"]), k, v,
                       heads)  # fmt: skip
    q = q + mlp(ln(q, f"{cab}.norm2"), f"{cab}.mlp")
    return F.linear(q.squeeze(1), p["linear.weight"], p["linear.bias"])


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
@torch.no_grad()
def test_four_level_probe_equals_the_original_math(tmp_path, shape):
    encoder_path, probe_path, config, probe = original_files(tmp_path, shape)
    model = vjepa2.load(encoder_path, config=config, classifier=probe_path, layers=4,
                        classifier_heads=shape[3])  # fmt: skip
    blocks = resolve_levels(config, 4)
    assert model.config.out_layers == list(blocks) and len(blocks) == 4
    width, _, _, heads, crop, frames = shape
    video = torch.randn(2, frames, 3, crop, crop)
    state = torch.load(encoder_path, weights_only=True)["encoder"]
    tokens = reference_levels(model.encoder, state, video, blocks)
    n = model.encoder(video).shape[1]
    assert tokens.shape == (2, 4 * n, width)
    out = model(video)
    assert max_err(out.last_hidden_state, tokens) <= TOL
    assert max_err(out.logits, reference_probe(probe, tokens, heads)) <= TOL
    # The same probe on the last block's tokens computes something else.
    last = reference_probe(probe, model.encoder(video), heads)
    assert max_err(out.logits, last) > 1e-3


@torch.no_grad()
def test_a_released_four_level_probe_file_reads_its_blocks(tmp_path):
    """diving48-vitl-256.pt is a 4-level probe: its levels come from its name."""
    shape = SHAPES["vitl-depth"]
    encoder_path, probe_path, config, probe = original_files(
        tmp_path, shape, name="diving48-vitl-256.pt"
    )
    model = vjepa2.load(encoder_path, config=config, classifier=probe_path,
                        classifier_heads=shape[3])  # fmt: skip
    assert model.config.out_layers == list(PAPER_LEVELS[24])
    video = torch.randn(1, shape[5], 3, shape[4], shape[4])
    state = torch.load(encoder_path, weights_only=True)["encoder"]
    tokens = reference_levels(model.encoder, state, video, PAPER_LEVELS[24])
    assert max_err(model(video).logits, reference_probe(probe, tokens, shape[3])) <= TOL


@torch.no_grad()
def test_a_single_level_probe_reads_the_last_block(tmp_path):
    shape = SHAPES["d4-w96"]
    encoder_path, probe_path, config, probe = original_files(
        tmp_path, shape, name="ssv2-vitl-16x2x3.pt"
    )
    model = vjepa2.load(encoder_path, config=config, classifier=probe_path,
                        classifier_heads=shape[3])  # fmt: skip
    assert model.config.out_layers is None
    video = torch.randn(2, 4, 3, 64, 64)
    expected = reference_probe(probe, model.encoder(video), shape[3])
    assert max_err(model(video).logits, expected) <= TOL


def test_a_released_probe_on_a_model_without_its_blocks_is_a_clear_error(tmp_path):
    encoder_path, probe_path, config, _ = original_files(
        tmp_path, SHAPES["d4-w96"], name="diving48-vitl-256.pt"
    )
    with pytest.raises(CheckpointError, match=r"reads encoder blocks \[17, 19, 21, 23\]"):
        vjepa2.load(encoder_path, config=config, classifier=probe_path)


def test_levels_other_than_the_probe_reads_are_a_clear_error(tmp_path):
    shape = SHAPES["vitl-depth"]
    encoder_path, probe_path, config, _ = original_files(
        tmp_path, shape, name="diving48-vitl-256.pt"
    )
    with pytest.raises(CheckpointError, match=r"reads encoder blocks \[17, 19, 21, 23\]"):
        vjepa2.load(encoder_path, config=config, classifier=probe_path, layers=[20, 23])
    same = vjepa2.load(encoder_path, config=config, classifier=probe_path, layers=4)
    assert same.config.out_layers == list(PAPER_LEVELS[24])


def _probe_file(tmp_path, edit) -> str:
    encoder_path, probe_path, config, probe = original_files(tmp_path, SHAPES["d4-w96"])
    probe = edit(dict(probe))
    torch.save({"classifiers": [{"module." + k: v for k, v in probe.items()}]}, probe_path)
    return encoder_path, probe_path, config


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: {k: v for k, v in p.items() if not k.startswith("linear.")},
         "no 'linear' head and no per-task"),
        (lambda p: p | {"verb_classifier.weight": p["linear.weight"],
                        "verb_classifier.bias": p["linear.bias"]}, "not both"),
        (lambda p: {("noun_" + k if k.startswith("linear") else k).replace("linear", "classifier"):
                    v for k, v in p.items()}
         | {"verb_classifier.weight": p["linear.weight"], "verb_classifier.bias": p["linear.bias"]},
         "2 heads \\(verb, noun\\) but 1 queries"),
    ],
    ids=["no-head", "both-heads", "tasks-without-queries"],
)  # fmt: skip
def test_a_probe_layout_that_does_not_fit_is_a_one_line_error(tmp_path, edit, message):
    encoder_path, probe_path, config = _probe_file(tmp_path, edit)
    with pytest.raises(CheckpointError, match=message) as err:
        vjepa2.load(encoder_path, config=config, classifier=probe_path)
    assert "\n" not in str(err.value)


# -- levels of a plain model through load -----------------------------------------------------


@torch.no_grad()
def test_load_with_layers_gives_the_levels(tmp_path):
    encoder_path, _, config, _ = original_files(tmp_path, SHAPES["d6-w64-48px"])
    model = vjepa2.load(encoder_path, config=config, layers=[1, -1])
    assert model.config.out_layers == [1, 5]
    video = torch.randn(2, 6, 3, 48, 48)
    out = model(video)
    state = torch.load(encoder_path, weights_only=True)["encoder"]
    expected = reference_levels(model.encoder, state, video, (1, 5))
    assert out.level_hidden_states.shape == (2, 2, out.last_hidden_state.shape[1], 64)
    assert max_err(out.level_hidden_states.flatten(1, 2), expected) <= TOL
    assert max_err(out.level_hidden_states[:, -1], out.last_hidden_state) == 0
    for target in (tmp_path / "hf", tmp_path / "ours.pt"):
        vjepa2.save(model, target)
        assert vjepa2.load(target).config.out_layers == [1, 5]


@pytest.mark.parametrize(
    ("depth", "count", "expected"),
    [(24, 4, (17, 19, 21, 23)), (40, 4, (24, 29, 34, 39)), (12, 4, (8, 9, 10, 11)),
     (32, 4, (19, 23, 27, 31)), (6, 2, (4, 5)), (6, 1, (5,))],
)  # fmt: skip
def test_a_level_count_picks_the_papers_taps(depth, count, expected):
    config = VJEPA2Config(hidden_size=64, num_attention_heads=2, num_hidden_layers=depth)
    assert resolve_levels(config, count) == expected


def test_impossible_levels_are_usage_errors():
    config = VJEPA2Config(hidden_size=64, num_attention_heads=2, num_hidden_layers=2)
    for levels in (3, 0, [2], [-3]):
        with pytest.raises(vjepa2.UsageError, match="2"):
            resolve_levels(config, levels)


# -- the command line ------------------------------------------------------------------------


def test_convert_then_classify_a_released_four_level_probe(tmp_path):
    shape = SHAPES["vitl-depth"]
    encoder_path, probe_path, config, _ = original_files(
        tmp_path, shape, name="diving48-vitl-256.pt"
    )
    config.save(tmp_path / "arch")
    run = CliRunner().invoke
    with pytest.warns(UserWarning, match=r"encoder blocks \[17, 19, 21, 23\] as its input"):
        converted = run(app, ["convert", str(encoder_path), str(tmp_path / "hf"), "--classifier",
                              str(probe_path), "--classifier-heads", str(shape[3]),
                              "--config", str(tmp_path / "arch" / "config.json")])  # fmt: skip
    assert converted.exit_code == 0, converted.output
    saved = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert saved["out_layers"] == list(PAPER_LEVELS[24])
    video = encode_video(tmp_path / "v.mp4", signature_frames(4, 32, 32), fps=4)
    classified = run(app, ["classify", str(video), "-m", str(tmp_path / "hf"), "--json",
                           "--workers", "0"])  # fmt: skip
    assert classified.exit_code == 0, classified.output
    assert len(json.loads(classified.output)["top_k"]) == 5


def test_classify_names_what_an_anticipation_model_is(ek100, tmp_path):
    vjepa2.save(load_ek100(ek100), tmp_path / "ek100")
    video = encode_video(tmp_path / "v.mp4", signature_frames(4, 64, 64), fps=4)
    result = CliRunner().invoke(app, ["classify", str(video), "-m", str(tmp_path / "ek100")])
    assert result.exit_code == 2
    assert "anticipation=1.0" in result.output


def test_the_diving48_presets_read_their_four_levels(tmp_path, monkeypatch):
    """The Hub's Diving48 classifiers hold the 4-level probe, which their config.json does not
    say: the presets do (transformers would feed the probe the last block)."""
    config = VJEPA2Config(hidden_size=32, num_hidden_layers=24, num_attention_heads=2,
                          crop_size=32, id2label={0: "a", 1: "b"})  # fmt: skip
    vjepa2.save(vjepa2.build_model(config, with_predictor=False), tmp_path / "hub")
    monkeypatch.setattr(hf, "download", lambda name, **kwargs: tmp_path / "hub")
    for source in ("vitl-diving48", "facebook/vjepa2-vitl-fpc32-256-diving48"):
        assert vjepa2.load(source).config.out_layers == [17, 19, 21, 23]
    assert vjepa2.load("vitl-ssv2").config.out_layers is None
    assert vjepa2.load(tmp_path / "hub").config.out_layers is None  # a folder says nothing


def test_config_fields_of_levels_and_tasks_round_trip_and_are_checked(tmp_path):
    base = dict(hidden_size=64, num_attention_heads=2, num_hidden_layers=4)
    config = VJEPA2Config(**base, out_layers=[1, -1], classifier_num_queries=2,
                          classifier_tasks=[("verb", 3), ("noun", 4)])  # fmt: skip
    config.save(tmp_path)
    again = VJEPA2Config.from_json_file(tmp_path / "config.json")
    assert again.out_layers == [1, -1] and again.classifier_tasks == [("verb", 3), ("noun", 4)]
    assert again.architecture == "VJEPA2ForActionAnticipation"
    assert "out_layers" not in VJEPA2Config(**base).to_dict()  # unset: not written
    bad = [
        (dict(out_layers=[4]), "not block indices of a 4-block encoder"),
        (dict(out_layers=[]), "non-empty list"),
        (dict(classifier_tasks=[("verb", 3)], classifier_num_queries=2), "one query per task"),
        (dict(classifier_tasks=[("verb", 0)]), "name, class count"),
        (dict(classifier_tasks=[("verb", 3)], id2label={0: "a"}), "not both"),
    ]
    for changes, message in bad:
        with pytest.raises(vjepa2.ConfigError, match=message):
            VJEPA2Config(**base, **changes)


def test_a_probe_of_another_model_size_is_a_one_line_error(tmp_path):
    _, probe_path, _, _ = original_files(tmp_path / "a", SHAPES["d4-w96"])
    encoder_path, _, config, _ = original_files(tmp_path / "b", SHAPES["d6-w64-48px"])
    with pytest.raises(CheckpointError, match="96-wide tokens cannot read a 64-wide") as err:
        vjepa2.load(encoder_path, config=config, classifier=probe_path)
    assert "\n" not in str(err.value)
