"""The parity measurements, shared by the tests (which assert <= 1e-5) and
``benchmarks/parity.py`` (which prints them for docs/models.md), so both report the same numbers.

Imports neither pytest nor, at module level, transformers (an optional extra, imported where
needed).
"""

from __future__ import annotations

import os
from typing import Any

import torch

import vjepa2
from vjepa2 import VJEPA2Config

# The shape of the original tiny fixture (width 96, 2 layers, 64 px, 4 frames) and variants.
_TINY = dict(
    hidden_size=96, num_hidden_layers=2, num_attention_heads=3, crop_size=64, frames_per_clip=4,
    pred_hidden_size=48, pred_num_hidden_layers=2, pred_num_attention_heads=3,
)  # fmt: skip
CONFIGS = {
    "hd32": VJEPA2Config(**_TINY),
    # head dim 80: RoPE leaves 2 dims unrotated (as ViT-H).
    "hd80": VJEPA2Config(**_TINY | dict(hidden_size=160, num_attention_heads=2, crop_size=48,
                                        pred_hidden_size=64, pred_num_attention_heads=2)),
    # mlp_ratio 48/11 (as ViT-g), head dim 64, 3 layers.
    "g-like": VJEPA2Config(**_TINY | dict(hidden_size=128, num_attention_heads=2,
                                          num_hidden_layers=3, mlp_ratio=48 / 11, crop_size=32,
                                          frames_per_clip=8)),
}  # fmt: skip
ENCODER_FRAMES = (1, 2, 4, 6)


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def perturb_(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)


def hf_config(config: VJEPA2Config):
    import transformers

    return transformers.VJEPA2Config(**config.to_dict())


def video_for(config: VJEPA2Config, frames: int, batch: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    size = config.crop_size
    return torch.randn(batch, frames, 3, size, size, generator=g)


def transformers_pair(name: str, folder: str | os.PathLike) -> tuple[Any, Any]:
    """(ours, theirs): transformers' VJEPA2Model, perturbed, saved by transformers into
    ``folder`` and loaded by ``vjepa2.load``."""
    import transformers

    torch.manual_seed(1)
    theirs = transformers.VJEPA2Model(hf_config(CONFIGS[name])).eval()
    perturb_(theirs)
    theirs.save_pretrained(folder)
    return vjepa2.load(folder), theirs


@torch.no_grad()
def encoder_error(ours, theirs, config: VJEPA2Config, frames: int) -> float:
    x = video_for(config, frames)
    expected = theirs.get_vision_features(x)
    got = ours(x).last_hidden_state
    assert got.shape == expected.shape
    return max_err(got, expected)


@torch.no_grad()
def predictor_errors(ours, theirs, config: VJEPA2Config) -> tuple[float, float]:
    """(random context/target split, transformers' default masks). transformers encodes the
    whole clip and gathers the context afterwards; our predictor gets exactly that context."""
    x = video_for(config, 4)
    n = (4 // 2) * config.grid_size**2
    g = torch.Generator().manual_seed(0)
    perms = torch.stack([torch.randperm(n, generator=g) for _ in range(2)])
    ctx, tgt = perms[:, : n // 2].sort(1).values, perms[:, n // 2 :].sort(1).values
    expected = theirs(x, context_mask=[ctx], target_mask=[tgt]).predictor_output
    full = ours(x).last_hidden_state
    context = torch.gather(full, 1, ctx.unsqueeze(-1).expand(-1, -1, full.size(-1)))
    split = max_err(ours.predictor(context, [ctx], [tgt]), expected.last_hidden_state)
    # Default masks in transformers: every token is both context and target.
    expected = theirs(x).predictor_output.last_hidden_state
    all_idx = torch.arange(n).expand(2, n)
    return split, max_err(ours(x, target_idx=[all_idx]).predictor_output, expected)


@torch.no_grad()
def classifier_logits_error(name: str, folder: str | os.PathLike) -> float:
    """transformers' VJEPA2ForVideoClassification (5 labels) loaded by ``vjepa2.load``: max
    logits error over 2- and 4-frame clips."""
    import transformers

    torch.manual_seed(2)
    config = CONFIGS[name].replace(id2label={i: f"class{i}" for i in range(5)})
    theirs = transformers.VJEPA2ForVideoClassification(hf_config(config)).eval()
    perturb_(theirs)
    theirs.save_pretrained(folder)
    ours = vjepa2.load(folder)
    assert ours.id2label == config.id2label
    return max(
        max_err(ours(x).logits, theirs(pixel_values_videos=x).logits)
        for x in (video_for(config, frames, batch=3) for frames in (2, 4))
    )


def original_config(cfg: dict[str, Any]) -> VJEPA2Config:
    """The architecture of ../shared/fixtures/original/tiny_square from its case.pt ``cfg``."""
    return VJEPA2Config(
        hidden_size=cfg["dim"], num_hidden_layers=cfg["depth"], num_attention_heads=cfg["heads"],
        mlp_ratio=cfg["mlp"], crop_size=cfg["img"], frames_per_clip=cfg["frames"],
        pred_hidden_size=cfg["pdim"], pred_num_hidden_layers=cfg["pdepth"],
        pred_num_attention_heads=cfg["pheads"], pred_num_mask_tokens=cfg["ntok"],
    )  # fmt: skip


@torch.no_grad()
def original_errors(folder: str | os.PathLike) -> dict[str, float]:
    """Ours against every tensor Meta's original code computed on the tiny_square fixture."""
    folder = os.fspath(folder)
    case = torch.load(os.path.join(folder, "case.pt"), weights_only=True)
    config = original_config(case["cfg"])
    checkpoint = os.path.join(folder, "checkpoint.pt")
    model = vjepa2.load(checkpoint, config=config)
    classifier = vjepa2.load(
        checkpoint, config=config, classifier=os.path.join(folder, "classifier.pt"),
        classifier_heads=case["cfg"]["cheads"],
    )  # fmt: skip
    x = case["video_bcthw"].transpose(1, 2)  # [B, C, T, H, W] -> [B, T, C, H, W]
    masked = model(x, context_idx=[case["context_idx"]], target_idx=[case["target_idx"]])
    return {
        "encoder": max_err(model(x).last_hidden_state, case["encoder_out"]),
        "masked encoder": max_err(masked.masked_hidden_state, case["masked_encoder_out"]),
        "predictor": max_err(masked.predictor_output, case["predictor_out"]),
        "probe logits": max_err(classifier(x).logits, case["classifier_logits"]),
    }
