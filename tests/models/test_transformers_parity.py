"""Parity with transformers' VJEPA2 port: random tiny models written by ``save_pretrained``.

Every parameter is perturbed so none is trivially zero (mask tokens, biases), then the directory
transformers wrote is loaded by ``vjepa2.load`` and both run on the same inputs in float32.
"""

import pytest
import torch

import vjepa2
from tests.conftest import tiny_config

transformers = pytest.importorskip("transformers")

TOL = 1e-5

CONFIGS = {
    "hd32": tiny_config(),
    # head dim 80: RoPE leaves 2 dims unrotated (as ViT-H).
    "hd80": tiny_config(hidden_size=160, num_attention_heads=2, crop_size=48, frames_per_clip=4,
                        pred_hidden_size=64, pred_num_attention_heads=2),
    # mlp_ratio 48/11 (as ViT-g), head dim 64, 3 layers.
    "g-like": tiny_config(hidden_size=128, num_attention_heads=2, num_hidden_layers=3,
                          mlp_ratio=48 / 11, crop_size=32, frames_per_clip=8),
}  # fmt: skip

# (frames, height, width) at each config's own crop size, including T=1 (repeated to a tubelet).
SHAPES = [(1, None, None), (2, None, None), (4, None, None), (6, None, None)]


def perturb_(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)


def hf_config(config: vjepa2.VJEPA2Config):
    return transformers.VJEPA2Config(**config.to_dict())


@pytest.fixture(scope="module", params=list(CONFIGS))
def pair(request, tmp_path_factory):
    """(ours, theirs) encoder + predictor with identical weights, via transformers' save."""
    torch.manual_seed(1)
    config = CONFIGS[request.param]
    theirs = transformers.VJEPA2Model(hf_config(config)).eval()
    perturb_(theirs)
    path = tmp_path_factory.mktemp(request.param)
    theirs.save_pretrained(path)
    ours = vjepa2.load(path)
    return ours, theirs, config


def video_for(config, frames, batch=2):
    size = config.crop_size
    return torch.randn(batch, frames, 3, size, size)


@pytest.mark.parametrize("frames", [1, 2, 4, 6])
@torch.no_grad()
def test_encoder(pair, frames):
    ours, theirs, config = pair
    x = video_for(config, frames)
    expected = theirs.get_vision_features(x)
    got = ours(x).last_hidden_state
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() <= TOL


@torch.no_grad()
def test_predictor_on_equal_inputs(pair):
    """transformers encodes the whole clip and gathers the context afterwards; give our predictor
    exactly that context and compare the predictions."""
    ours, theirs, config = pair
    x = video_for(config, 4)
    n = (4 // 2) * config.grid_size**2
    g = torch.Generator().manual_seed(0)
    perms = torch.stack([torch.randperm(n, generator=g) for _ in range(2)])
    ctx, tgt = perms[:, : n // 2].sort(1).values, perms[:, n // 2 :].sort(1).values
    expected = theirs(x, context_mask=[ctx], target_mask=[tgt])
    full = ours(x).last_hidden_state
    context = torch.gather(full, 1, ctx.unsqueeze(-1).expand(-1, -1, full.size(-1)))
    got = ours.predictor(context, [ctx], [tgt])
    assert (got - expected.predictor_output.last_hidden_state).abs().max().item() <= TOL
    # Default masks in transformers: every token is both context and target.
    expected = theirs(x).predictor_output.last_hidden_state
    all_idx = torch.arange(n).expand(2, n)
    got = ours(x, target_idx=[all_idx]).predictor_output
    assert (got - expected).abs().max().item() <= TOL


@pytest.mark.parametrize("name", list(CONFIGS))
@torch.no_grad()
def test_classifier_logits(name, tmp_path):
    torch.manual_seed(2)
    config = CONFIGS[name].replace(id2label={i: f"class{i}" for i in range(5)})
    theirs = transformers.VJEPA2ForVideoClassification(hf_config(config)).eval()
    perturb_(theirs)
    theirs.save_pretrained(tmp_path)
    ours = vjepa2.load(tmp_path)
    assert ours.id2label == config.id2label
    for frames in (2, 4):
        x = video_for(config, frames, batch=3)
        expected = theirs(pixel_values_videos=x).logits
        assert (ours(x).logits - expected).abs().max().item() <= TOL


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
