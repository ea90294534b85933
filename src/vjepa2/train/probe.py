"""Attentive-probe training on a frozen V-JEPA 2 backbone.

Two recipes (every setting can be overridden):
- ``card``: the published fine-tune of ``qubvel-hf/vjepa2-vitl-fpc16-256-ssv2`` — one probe,
  Adam, lr 1e-5 constant, 5 epochs, batch 1 with gradient accumulation 4 (the card does not
  state the batch size), fp32, validation every epoch, test accuracy at the end. The probe has
  transformers' shape (the encoder's head count, LayerNorm eps 1e-6), so the exported model
  runs identically in transformers.
- ``paper``: the paper's frozen evaluation — AdamW, cosine lr to 0, 20 epochs, one probe per
  (lr, weight decay) pair of a 5 × 4 grid trained together, the best picked on validation; 16
  heads and eps 1e-5 as the original probes; 2 segments × 3 views at evaluation.

The loop reads like the recipe: for each epoch, for each batch, sum the heads' cross-entropy,
step every ``accumulation`` batches, validate at the end of the epoch, checkpoint.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from vjepa2.data.clip_pipeline import ClipSpec
from vjepa2.data.manifest import LabelledSet
from vjepa2.models.classifier import AttentiveClassifier
from vjepa2.models.model import VJEPA2ForVideoClassification, VJEPA2Model
from vjepa2.runtime import parse_dtype
from vjepa2.train import probe_report
from vjepa2.train.features import FeatureCache, read_failures
from vjepa2.train.optim import param_groups, set_lr, warmup_cosine
from vjepa2.train.probe_data import CachedFeatures, OnlineFeatures, epoch_order
from vjepa2.train.state import load_checkpoint, rng_state, save_atomic, set_rng_state
from vjepa2.video.transforms import TrainTransform

RECIPES: dict[str, dict[str, Any]] = {
    "card": dict(epochs=5, batch_size=1, accumulation=4, optimizer="adam", lrs=(1e-5,),
                 weight_decays=(0.0,), schedule="constant", probe_heads=None, probe_eps=None,
                 segments=1, views=1, augment_scale=(0.3, 1.0), flip=0.5),
    "paper": dict(epochs=20, batch_size=16, accumulation=1, optimizer="adamw",
                  lrs=(5e-3, 3e-3, 1e-3, 3e-4, 1e-4), weight_decays=(0.01, 0.1, 0.4, 0.8),
                  schedule="cosine", probe_heads=16, probe_eps=1e-5, segments=2, views=3,
                  augment_scale=(0.08, 1.0), flip=0.0),
}  # fmt: skip


@dataclass
class ProbeSettings:
    """Everything a probe run depends on; saved in the run folder and checked on resume."""

    recipe: str = "card"
    epochs: int = 5
    batch_size: int = 1
    accumulation: int = 4
    optimizer: str = "adam"
    lrs: tuple[float, ...] = (1e-5,)
    weight_decays: tuple[float, ...] = (0.0,)
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    probe_heads: int | None = None
    probe_eps: float | None = None
    probe_blocks: int = 3
    frames: int | None = None
    frame_step: int | None = None
    segments: int = 1
    views: int = 1
    cache: bool = True
    cache_storage: str = "fp16"
    augment: bool = True
    augment_scale: tuple[float, float] = (0.3, 1.0)
    flip: float = 0.5
    unfreeze: int = 0
    dtype: str = "fp32"
    seed: int = 0
    checkpoint_every: int = 0
    encode_batch_size: int = 8
    workers: int = 1
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_recipe(cls, recipe: str, **overrides: Any) -> ProbeSettings:
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; choose from {', '.join(RECIPES)}")
        values = {**RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}
        settings = cls(recipe=recipe, **values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.optimizer not in ("adam", "adamw"):
            raise ValueError(f"optimizer must be adam or adamw, got {self.optimizer!r}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be constant or cosine, got {self.schedule!r}")
        if self.unfreeze and self.cache:
            raise ValueError("unfreezing encoder blocks needs the uncached path (--no-cache)")
        if self.unfreeze and len(self.head_grid) > 1:
            raise ValueError("unfreezing encoder blocks trains a single probe (one lr and wd)")
        if not 0.0 <= self.flip <= 1.0:
            raise ValueError(f"flip is a probability in [0, 1], got {self.flip}")
        if min(self.epochs, self.batch_size, self.accumulation) < 1:
            raise ValueError("epochs, batch size and accumulation must be >= 1")

    @property
    def head_grid(self) -> list[tuple[float, float]]:
        """(lr, weight decay) of each probe trained in parallel."""
        return list(itertools.product(self.lrs, self.weight_decays))


def make_probe(dim: int, num_classes: int, settings: ProbeSettings, config) -> AttentiveClassifier:
    return AttentiveClassifier(
        dim, num_classes,
        num_heads=settings.probe_heads or config.num_attention_heads,
        num_self_blocks=settings.probe_blocks,
        eps=config.layer_norm_eps if settings.probe_eps is None else settings.probe_eps,
    )  # fmt: skip


def _split_backbone(model: VJEPA2Model | VJEPA2ForVideoClassification):
    """(backbone, head to start the probes from or None)."""
    if isinstance(model, VJEPA2ForVideoClassification):
        return model.backbone, model.head
    return model, None


@torch.no_grad()
def evaluate(
    probes: nn.ModuleList, cache: FeatureCache, batch_size: int, device
) -> list[torch.Tensor]:
    """Per probe, class probabilities ``[n, C]`` of the cache's valid rows: every view is
    classified and the softmax averaged over views."""
    rows = cache.valid_rows
    outputs: list[list[torch.Tensor]] = [[] for _ in probes]
    for first in range(0, len(rows), batch_size):
        tokens, _ = cache.batch(rows[first : first + batch_size])
        b, v = tokens.shape[:2]
        tokens = tokens.to(device).flatten(0, 1)
        for out, probe in zip(outputs, probes, strict=True):
            out.append(probe(tokens).float().softmax(-1).view(b, v, -1).mean(1).cpu())
    return [torch.cat(out) if out else torch.empty(0) for out in outputs]


def accuracy(probs: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    if not len(labels):
        return float("nan")
    top = probs.topk(min(k, probs.shape[1]), dim=1).indices
    return (top == labels[:, None]).any(1).float().mean().item()


def lr_factor(settings: ProbeSettings, step: int, total: int, steps_per_epoch: int) -> float:
    if settings.schedule == "constant":
        return 1.0
    warmup = int(settings.warmup_epochs * steps_per_epoch)
    return warmup_cosine(step, warmup, total, ref=1.0, start=0.0, final=0.0)


def train_probe(
    model: VJEPA2Model | VJEPA2ForVideoClassification,
    train: LabelledSet,
    val: LabelledSet,
    test: LabelledSet,
    run_dir: str | Path,
    settings: ProbeSettings,
    *,
    model_name: str = "",
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train probes on ``train``, validate each epoch on ``val``, test the best on ``test``.

    Writes into ``run_dir``: ``tb/`` (TensorBoard), ``checkpoints/latest.pt``,
    ``features/`` (caches), ``metrics.json``, ``confusion_matrix.png``,
    ``training_curves.png`` and ``model/`` (an HF-format VJEPA2ForVideoClassification).
    Returns the metrics.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(settings.seed)
    backbone, start_head = _split_backbone(model)
    encoder = backbone.encoder
    device = next(encoder.parameters()).device
    dtype = parse_dtype(settings.dtype)
    config = backbone.config
    spec = ClipSpec.for_model(config, frames=settings.frames, frame_step=settings.frame_step,
                              segments=settings.segments, views=settings.views)  # fmt: skip
    _check_settings(run_dir, settings, resume)
    timing: dict[str, float] = {}

    def cache(name: str, data: LabelledSet, views: int) -> FeatureCache:
        begin = time.perf_counter()
        built = FeatureCache.build(
            run_dir / "features" / name, encoder, data.examples, spec.with_(views=views),
            batch_size=settings.encode_batch_size, workers=settings.workers, dtype=dtype,
            storage=settings.cache_storage, progress=progress, description=f"features: {name}",
        )  # fmt: skip
        timing[f"cache_{name}_seconds"] = round(time.perf_counter() - begin, 3)
        return built

    for param in encoder.parameters():
        param.requires_grad_(False)
    val_cache, test_cache = cache("val", val, settings.views), cache("test", test, settings.views)
    if settings.cache:
        source = CachedFeatures(cache("train", train, 1))
    else:
        trainable = _unfreeze(encoder, settings.unfreeze)
        transform = None
        if settings.augment:
            transform = TrainTransform(spec.crop_size, scale=settings.augment_scale,
                                       flip_p=settings.flip)  # fmt: skip
        source = OnlineFeatures(train.examples, spec, encoder, transform, settings.seed,
                                settings.workers, dtype)  # fmt: skip
    num_classes = len(train.id2label)
    probes = nn.ModuleList()
    for _ in settings.head_grid:
        probe = make_probe(config.hidden_size, num_classes, settings, config)
        probe.reset_parameters()
        if start_head is not None and _compatible(start_head, probe):
            probe.pooler.load_state_dict(start_head.pooler.state_dict())
        probes.append(probe)
    probes.to(device)
    groups = []
    for probe, (lr, wd) in zip(probes, settings.head_grid, strict=True):
        groups += param_groups([probe], wd, lr_scale=lr)
    if not settings.cache and settings.unfreeze:
        groups += param_groups([trainable], settings.weight_decays[0], lr_scale=settings.lrs[0])
    opt_cls = torch.optim.AdamW if settings.optimizer == "adamw" else torch.optim.Adam
    optimizer = opt_cls(groups, lr=settings.lrs[0])

    batches_per_epoch = -(-len(source) // settings.batch_size)
    steps_per_epoch = -(-batches_per_epoch // settings.accumulation)
    total_steps = steps_per_epoch * settings.epochs
    state = {"epoch": 0, "position": 0, "step": 0, "history": [], "losses": []}
    checkpoint_path = run_dir / "checkpoints" / "latest.pt"
    if resume and checkpoint_path.exists():
        state = _restore(checkpoint_path, probes, optimizer, encoder)
    writer = probe_report.tensorboard(run_dir / "tb", purge_step=state["step"])

    def save() -> None:
        save_atomic({
            "probes": probes.state_dict(), "optimizer": optimizer.state_dict(),
            "encoder": encoder.state_dict() if settings.unfreeze else None,
            "rng": rng_state(), **state,
        }, checkpoint_path)  # fmt: skip

    begin = time.perf_counter()
    val_labels = torch.from_numpy(val_cache.labels[val_cache.valid_rows])
    for epoch in range(state["epoch"], settings.epochs):
        probes.train()
        order = epoch_order(len(source), settings.seed, epoch)
        bar = tqdm(total=batches_per_epoch, initial=state["position"], disable=not progress,
                   desc=f"epoch {epoch + 1}/{settings.epochs}", unit="batch")  # fmt: skip
        for tokens, labels in source.batches(order, settings.batch_size, state["position"], epoch):
            tokens, labels = tokens.to(device), labels.to(device)
            logits = [probe(tokens[:, 0]) for probe in probes]  # training uses one view
            loss = sum(F.cross_entropy(lg.float(), labels) for lg in logits)
            (loss / settings.accumulation).backward()
            state["position"] += 1
            last = state["position"] == batches_per_epoch
            if state["position"] % settings.accumulation == 0 or last:
                factor = lr_factor(settings, state["step"], total_steps, steps_per_epoch)
                set_lr(optimizer, factor)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                state["step"] += 1
                mean_loss = loss.item() / len(probes)
                state["losses"].append((state["step"], mean_loss))
                writer.add_scalar("train/loss", mean_loss, state["step"])
                writer.add_scalar("train/lr", factor * settings.lrs[0], state["step"])
                if settings.checkpoint_every and state["step"] % settings.checkpoint_every == 0:
                    save()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item() / len(probes):.4f}")
        bar.close()
        optimizer.zero_grad(set_to_none=True)
        probes.eval()
        val_probs = evaluate(probes, val_cache, settings.encode_batch_size, device)
        val_metrics = [
            {"lr": lr, "weight_decay": wd, "top1": accuracy(p, val_labels, 1),
             "top5": accuracy(p, val_labels, 5)}
            for p, (lr, wd) in zip(val_probs, settings.head_grid, strict=True)
        ]  # fmt: skip
        best = max(val_metrics, key=lambda m: m["top1"])
        train_loss = _epoch_loss(state["losses"], steps_per_epoch)
        state["history"].append(
            {"epoch": epoch + 1, "train_loss": train_loss, "val": val_metrics,
             "best_val_top1": best["top1"]}
        )  # fmt: skip
        writer.add_scalar("val/top1", best["top1"], state["step"])
        writer.add_scalar("val/top5", best["top5"], state["step"])
        state.update(epoch=epoch + 1, position=0)
        save()
    timing["train_seconds"] = round(time.perf_counter() - begin, 3)

    probes.eval()
    final_val = state["history"][-1]["val"]
    best_index = max(range(len(final_val)), key=lambda i: final_val[i]["top1"])
    test_probs = evaluate(probes, test_cache, settings.encode_batch_size, device)[best_index]
    test_labels = torch.from_numpy(test_cache.labels[test_cache.valid_rows])
    metrics = {
        "recipe": settings.recipe,
        "model": model_name,
        "settings": asdict(settings),
        "classes": train.id2label,
        "num_examples": {"train": len(source), "val": len(val_labels), "test": len(test_labels)},
        "failures": {n: read_failures(run_dir / "features" / n) for n in ("train", "val", "test")},
        "history": state["history"],
        "best_probe": {"index": best_index, **final_val[best_index]},
        "test": {
            "top1": accuracy(test_probs, test_labels, 1),
            "top5": accuracy(test_probs, test_labels, 5),
        },
        "timing": timing,
    }  # fmt: skip
    writer.add_scalar("test/top1", metrics["test"]["top1"], state["step"])
    writer.add_scalar("test/top5", metrics["test"]["top5"], state["step"])
    writer.close()
    exported = export_classifier(backbone, probes[best_index], settings, train.id2label)
    exported.save_pretrained(run_dir / "model")
    probe_report.write(run_dir, metrics, state["losses"], test_probs, test_labels, train.id2label)
    return metrics


def export_classifier(backbone: VJEPA2Model, probe: AttentiveClassifier, settings: ProbeSettings,
                      id2label: dict[int, str]) -> VJEPA2ForVideoClassification:  # fmt: skip
    """The backbone and a trained probe as one classifier (HF-format ready)."""
    config = backbone.config
    heads = probe.pooler.cross_attention_block.xattn.num_heads
    eps = probe.pooler.cross_attention_block.norm1.eps
    config = replace(
        config, id2label=dict(id2label), num_pooler_layers=len(probe.pooler.blocks),
        classifier_num_heads=None if heads == config.num_attention_heads else heads,
        classifier_layer_norm_eps=None if eps == config.layer_norm_eps else eps,
        frames_per_clip=settings.frames or config.frames_per_clip, architectures=None,
    )  # fmt: skip
    model = VJEPA2ForVideoClassification(config, with_predictor=backbone.predictor is not None)
    model.backbone.load_state_dict(backbone.state_dict())
    model.head.load_state_dict(probe.state_dict())
    return model.eval()


def _compatible(head: AttentiveClassifier, probe: AttentiveClassifier) -> bool:
    ours = {k: v.shape for k, v in probe.pooler.state_dict().items()}
    theirs = {k: v.shape for k, v in head.pooler.state_dict().items()}
    heads = [h.pooler.cross_attention_block.xattn.num_heads for h in (head, probe)]
    same_heads = heads[0] == heads[1]
    return ours == theirs and same_heads


def _unfreeze(encoder: nn.Module, blocks: int) -> nn.ModuleList:
    """Make the last ``blocks`` blocks and the final norm trainable (with checkpointing)."""
    trainable = nn.ModuleList([*encoder.blocks[len(encoder.blocks) - blocks :], encoder.norm])
    if blocks:
        for param in trainable.parameters():
            param.requires_grad_(True)
        encoder.gradient_checkpointing = True
    return trainable


def _epoch_loss(losses: list, steps_per_epoch: int) -> float:
    recent = [loss for _, loss in losses[-steps_per_epoch:]]
    return float(np.mean(recent)) if recent else float("nan")


def _check_settings(run_dir: Path, settings: ProbeSettings, resume: bool) -> None:
    path = run_dir / "settings.json"
    current = json.loads(json.dumps(asdict(settings)))
    if resume and path.exists():
        saved = json.loads(path.read_text())
        if saved != current:
            changed = sorted(k for k in current if saved.get(k) != current[k])
            raise ValueError(f"{run_dir}: --resume with different settings ({', '.join(changed)})")
    path.write_text(json.dumps(current, indent=1))


def _restore(path: Path, probes: nn.ModuleList, optimizer, encoder: nn.Module) -> dict:
    checkpoint = load_checkpoint(path)
    probes.load_state_dict(checkpoint["probes"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    if checkpoint.get("encoder") is not None:
        encoder.load_state_dict(checkpoint["encoder"])
    set_rng_state(checkpoint["rng"])
    return {k: checkpoint[k] for k in ("epoch", "position", "step", "history", "losses")}
