"""Every setting of ``vjepa2 train-probe``, written once (the CLI is derived from these fields),
and the two recipes that fill them in."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, fields
from typing import Any

from vjepa2.errors import UsageError
from vjepa2.models.levels import parse_levels
from vjepa2.runtime import DEFAULT_WORKERS, DTYPES
from vjepa2.train.lora import target_pattern
from vjepa2.train.options import option

log = logging.getLogger("vjepa2.train")

RECIPES: dict[str, dict[str, Any]] = {
    "card": dict(epochs=5, batch_size=1, accumulation=4, optimizer="adam", lrs=(1e-5,),
                 weight_decays=(0.0,), schedule="constant", probe_heads=None, probe_eps=None,
                 segments=1, views=1, augment_scale=(0.3, 1.0), flip=0.5),
    "paper": dict(epochs=20, batch_size=16, accumulation=1, optimizer="adamw",
                  lrs=(5e-3, 3e-3, 1e-3, 3e-4, 1e-4), weight_decays=(0.01, 0.1, 0.4, 0.8),
                  schedule="cosine", probe_heads=16, probe_eps=1e-5, segments=2, views=3,
                  augment_scale=(0.08, 1.0), flip=0.0),
}  # fmt: skip


def parse_floats(text: str | None) -> tuple[float, ...] | None:
    """``"1e-3,1e-4"`` -> ``(1e-3, 1e-4)``; ``None`` stays ``None`` (the recipe's)."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise UsageError(f"expected non-negative numbers, got {text!r}")
    return values


def parse_names(text: str | None) -> tuple[str, ...] | None:
    """``"qkv,proj"`` -> ``("qkv", "proj")``; ``None`` stays ``None`` (the default)."""
    if text is None:
        return None
    return tuple(name.strip() for name in text.split(",") if name.strip())


# The recipe sets these unless the command line does: their CLI default is None.
RECIPE = dict(cli_default=None)


@dataclass
class ProbeSettings:
    """Everything a probe run depends on; saved in the run folder and checked on resume."""

    recipe: str = option(
        "card", "card: the published fine-tune (Adam 1e-5, 5 epochs, accumulation 4); "
        "paper: AdamW + cosine, 20 epochs, 20-probe lr/wd sweep, 2 segments x 3 views.",
        choices=tuple(RECIPES),
    )  # fmt: skip
    epochs: int = option(5, "Epochs.", min=1, resume="changeable", **RECIPE)
    batch_size: int = option(1, "Videos per batch.", min=1, **RECIPE)
    accumulation: int = option(4, "Batches per optimizer step.", min=1, **RECIPE)
    optimizer: str = option("adam", "adam or adamw.", choices=("adam", "adamw"), **RECIPE)
    lrs: tuple[float, ...] = option(
        (1e-5,), "Learning rate(s), comma-separated: one probe each.", flags=("--lr",),
        cli_type=str | None, parse=parse_floats, **RECIPE,
    )  # fmt: skip
    weight_decays: tuple[float, ...] = option(
        (0.0,), "Weight decay(s), comma-separated.", flags=("--weight-decay",),
        cli_type=str | None, parse=parse_floats, **RECIPE,
    )  # fmt: skip
    schedule: str = option("constant", "constant or cosine.", choices=("constant", "cosine"),
                           **RECIPE)  # fmt: skip
    warmup_epochs: float = option(0.0, cli=False)
    probe_heads: int | None = option(None, "Attention heads of the probe.", min=1)
    probe_eps: float | None = option(None, cli=False)
    probe_blocks: int = option(
        3, "Self-attention blocks before the probe's cross-attention (3; 0 is V-JEPA 1's "
        "single cross-attention probe).", min=0, **RECIPE,
    )  # fmt: skip
    layers: int | tuple[int, ...] | None = option(
        None, "Multi-level probe: a count (4: the paper's 4-level probe, as for Diving48: ViT-L "
        "blocks 17,19,21,23, ViT-g 24,29,34,39, each through the final norm, concatenated "
        "along the tokens) or block indices (17,19,21,23). Default: the last block.",
        cli_type=str | None, parse=lambda text: None if text is None else parse_levels(text),
    )  # fmt: skip
    frames: int | None = option(
        None, "Frames per clip (default: the checkpoint's frames_per_clip).", min=1
    )
    frame_step: int | None = option(
        None, "Take every N-th frame (default: 2 for 64-frame models, else 1).", min=1
    )
    segments: int = option(1, "Clips per video (tokens concatenated).", min=1, **RECIPE)
    views: int = option(1, "Spatial views at evaluation (1 or 3).", min=1, **RECIPE)
    cache: bool = option(True, "Encode every clip once into a feature cache (no augmentation).")
    cache_storage: str = option("fp16", "Feature cache precision: fp16 or fp32.",
                                flags=("--cache-dtype",), choices=("fp16", "fp32"))  # fmt: skip
    augment: bool = option(True, "Random resized crop + flip (uncached path only).")
    augment_scale: tuple[float, float] = option((0.3, 1.0), cli=False)
    flip: float = option(
        0.5, "Horizontal-flip probability when augmenting (card recipe 0.5, paper 0). Use 0 "
        "when a label depends on left and right, e.g. 'moving something left to right'.",
        **RECIPE,
    )  # fmt: skip
    unfreeze: int = option(0, "Also train the last N encoder blocks (implies --no-cache).", min=0)
    lora_rank: int = option(
        0, "Also train LoRA adapters of this rank in every encoder block (0: off; implies "
        "--no-cache; needs peft). The run saves them in adapter/ and merges them into model/.",
        min=0,
    )  # fmt: skip
    lora_alpha: float | None = option(
        None, "LoRA alpha: the adapters' output is scaled by alpha / rank (default: 2 x rank).",
        min=0.0, min_open=True,
    )  # fmt: skip
    lora_dropout: float = option(0.0, "Dropout on the LoRA adapters' input while training.",
                                 min=0.0)  # fmt: skip
    lora_targets: tuple[str, ...] = option(
        ("qkv", "proj"), "Layers of each block that get LoRA adapters, comma list of qkv, proj "
        "(attention), fc1, fc2 (MLP); default qkv,proj.", cli_type=str | None, parse=parse_names,
    )  # fmt: skip
    grad_checkpointing: bool = option(
        False, "Activation checkpointing in the encoder blocks when they train (--unfreeze, "
        "--lora-rank): less memory for about a third more compute, the same gradients.",
        resume="free",
    )  # fmt: skip
    dtype: str = option("fp32", "Compute precision: fp32, bf16 or fp16 (autocast).",
                        choices=tuple(DTYPES))  # fmt: skip
    seed: int = option(0, "Seed for the split, init and data order.")
    checkpoint_every: int = option(
        0, "Also checkpoint every N optimizer steps (0: each epoch only).", min=0, resume="free"
    )
    encode_batch_size: int = option(8, cli=False, resume="free")
    workers: int = option(DEFAULT_WORKERS, "Decoding processes running ahead of the model "
                          "(0: decode inline).", min=0, resume="free")  # fmt: skip
    extra: dict = option(default_factory=dict, cli=False)  # noqa: RUF009

    @classmethod
    def from_recipe(cls, recipe: str = "card", **overrides: Any) -> ProbeSettings:
        """The recipe's settings with ``overrides`` (``None`` values keep the recipe's).
        ``unfreeze`` and ``lora_rank`` imply the uncached path (the cache holds frozen
        features)."""
        if recipe not in RECIPES:
            raise UsageError(f"--recipe {recipe!r}: choose from {', '.join(RECIPES)}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown probe settings: {', '.join(unknown)}")
        values = {**RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}
        trains = [f"--{n.replace('_', '-')}" for n in ("unfreeze", "lora_rank") if values.get(n)]
        if trains and values.get("cache", True):
            log.warning("%s trains the encoder, which the feature cache (frozen features) "
                        "cannot: training with --no-cache", trains[0])  # fmt: skip
            values["cache"] = False
        settings = cls(recipe=recipe, **values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise :class:`UsageError` for settings that cannot train."""
        if self.optimizer not in ("adam", "adamw"):
            raise UsageError(f"optimizer must be adam or adamw, got {self.optimizer!r}")
        if self.schedule not in ("constant", "cosine"):
            raise UsageError(f"schedule must be constant or cosine, got {self.schedule!r}")
        if self.trains_encoder and self.cache:
            raise UsageError("training the encoder (--unfreeze, --lora-rank) needs the uncached "
                             "path (--no-cache)")  # fmt: skip
        if self.trains_encoder and len(self.head_grid) > 1:
            raise UsageError("training the encoder (--unfreeze, --lora-rank) trains a single "
                             "probe (one lr and wd)")  # fmt: skip
        if self.unfreeze and self.lora_rank:
            raise UsageError("--unfreeze and --lora-rank are alternatives: give one of them")
        if self.lora_rank:
            target_pattern(self.lora_targets)
        if not 0.0 <= self.lora_dropout < 1.0:
            raise UsageError(f"--lora-dropout is a probability in [0, 1), got {self.lora_dropout}")
        if not 0.0 <= self.flip <= 1.0:
            raise UsageError(f"--flip is a probability in [0, 1], got {self.flip}")
        if min(self.epochs, self.batch_size, self.accumulation) < 1:
            raise UsageError("epochs, batch size and accumulation must be >= 1")
        if self.views not in (1, 3):
            raise UsageError(f"--views {self.views}: 1 (centre crop) or 3 (three crops)")
        if not self.lrs or not self.weight_decays:
            raise UsageError("give at least one --lr and one --weight-decay")

    @property
    def trains_encoder(self) -> bool:
        """Whether encoder weights train with the probe (``--unfreeze`` or ``--lora-rank``)."""
        return bool(self.unfreeze or self.lora_rank)

    @property
    def lora_scale_alpha(self) -> float:
        """LoRA's alpha: as given, else twice the rank."""
        return 2.0 * self.lora_rank if self.lora_alpha is None else self.lora_alpha

    @property
    def head_grid(self) -> list[tuple[float, float]]:
        """(lr, weight decay) of each probe trained in parallel."""
        return list(itertools.product(self.lrs, self.weight_decays))
