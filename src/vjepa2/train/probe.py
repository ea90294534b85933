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
step every ``accumulation`` batches, validate at the end of the epoch, checkpoint. The epochs,
checkpoints and resume are the skeleton every trainer shares (`vjepa2.train.loop`,
`vjepa2.train.state`, `vjepa2.train.run_folder`); the settings live in
`vjepa2.train.probe_settings`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
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
from vjepa2.errors import UsageError
from vjepa2.files import write_text_atomic
from vjepa2.inference.classify import CLASSIFIERS
from vjepa2.inference.records import weights_fingerprint
from vjepa2.models.classifier import AttentiveClassifier
from vjepa2.models.levels import resolve_levels
from vjepa2.models.model import (
    VJEPA2ForActionAnticipation,
    VJEPA2ForVideoClassification,
    VJEPA2Model,
)
from vjepa2.models.vjepa2_1 import VJEPA21ForVideoClassification, VJEPA21Model
from vjepa2.runtime import parse_dtype
from vjepa2.train import lora, probe_report
from vjepa2.train.ddp import (
    batch_loss,
    build_cache,
    local_loss,
    on_main,
    process_group,
    reduce_gradients,
    training_source,
)
from vjepa2.train.features import FeatureCache, read_failures
from vjepa2.train.loop import LoopPlan, run_epochs
from vjepa2.train.optim import param_groups, set_lr, warmup_cosine
from vjepa2.train.options import options_json
from vjepa2.train.probe_data import CachedFeatures, OnlineFeatures, epoch_order
from vjepa2.train.probe_settings import RECIPES, ProbeSettings
from vjepa2.train.run_folder import RunFolder, list_digest, summary_writer, tensorboard_available
from vjepa2.train.state import RunState, load_checkpoint, rng_state, save_atomic, set_rng_state
from vjepa2.video.transforms import TrainTransform
from vjepa2.weights import save as save_model

__all__ = ["RECIPES", "ProbeSettings", "export_classifier", "train_probe"]

log = logging.getLogger("vjepa2.train")

RUN_FILES = ("run.json", "settings.json", "checkpoints", "tb", "features", "metrics.json",
             "confusion_matrix.png", "training_curves.png", "model", "adapter")  # fmt: skip
RUN_MARKERS = ("run.json", "settings.json", "checkpoints/latest.pt", "metrics.json")


def make_probe(dim: int, num_classes: int, settings: ProbeSettings, config) -> AttentiveClassifier:
    return AttentiveClassifier(
        dim, num_classes,
        num_heads=settings.probe_heads or config.num_attention_heads,
        num_self_blocks=settings.probe_blocks,
        eps=config.layer_norm_eps if settings.probe_eps is None else settings.probe_eps,
    )  # fmt: skip


def probe_levels(config, settings: ProbeSettings) -> tuple[int, ...] | None:
    """The encoder blocks the probe reads (``--layers`` resolved for the encoder, else the
    levels the model was loaded with); None: the last block."""
    if settings.layers is None:
        loaded = getattr(config, "out_layers", None)
        return tuple(loaded) if loaded else None
    blocks = resolve_levels(config, settings.layers)
    if blocks == (config.num_hidden_layers - 1,):
        return None
    if not hasattr(config, "out_layers"):
        raise UsageError(
            f"--layers: a {config.model_type} classifier cannot carry a multi-level probe yet "
            "(V-JEPA 2 models can); embed the levels with 'vjepa2 embed --layers' instead"
        )
    return blocks


def _split_backbone(model: VJEPA2Model | VJEPA2ForVideoClassification):
    """(backbone, head to start the probes from or None); V-JEPA 2 or 2.1."""
    if isinstance(model, CLASSIFIERS):
        return model.backbone, model.head
    if isinstance(model, VJEPA2ForActionAnticipation):  # its multi-query head does not fit
        return model.backbone, None
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


def topk_accuracy(probs: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    if not len(labels):
        return float("nan")
    top = probs.topk(min(k, probs.shape[1]), dim=1).indices
    return (top == labels[:, None]).any(1).float().mean().item()


def lr_factor(settings: ProbeSettings, step: int, total: int, steps_per_epoch: int) -> float:
    if settings.schedule == "constant":
        return 1.0
    warmup = int(settings.warmup_epochs * steps_per_epoch)
    return warmup_cosine(step, warmup, total, ref=1.0, start=0.0, final=0.0)


@dataclass
class ProbeRun:
    """What one probe run works with: the probes and their optimiser, the training source, the
    evaluation caches, where the run stands and what it logged."""

    settings: ProbeSettings
    encoder: nn.Module
    device: torch.device
    probes: nn.ModuleList
    optimizer: torch.optim.Optimizer
    source: CachedFeatures | OnlineFeatures
    val_cache: FeatureCache
    test_cache: FeatureCache
    lora: nn.Module | None = None
    rebuild_cache: Callable[[str], FeatureCache] | None = None
    state: RunState = field(default_factory=RunState)
    history: list[dict] = field(default_factory=list)
    losses: list[tuple[int, float]] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def batches_per_epoch(self) -> int:
        return -(-len(self.source) // self.settings.batch_size)

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.batches_per_epoch // self.settings.accumulation)

    def save(self, path: Path) -> None:
        if not process_group().is_main:
            return
        save_atomic({
            "probes": self.probes.state_dict(), "optimizer": self.optimizer.state_dict(),
            "encoder": self.encoder.state_dict() if self.settings.unfreeze else None,
            "adapter": lora.adapter_state(self.encoder) if self.lora is not None else None,
            "rng": rng_state(), **self.state.counters(), "history": self.history,
            "losses": self.losses,
        }, path)  # fmt: skip

    def refresh_caches(self, *names: str) -> None:
        """Encode the evaluation sets again with the encoder as trained so far (when it
        trains; a frozen encoder's caches stay valid)."""
        if self.rebuild_cache is None:
            return
        self.encoder.eval()
        for name in names:
            setattr(self, f"{name}_cache", self.rebuild_cache(name))

    def restore(self, path: Path) -> None:
        checkpoint = load_checkpoint(path)
        self.probes.load_state_dict(checkpoint["probes"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if checkpoint.get("encoder") is not None:
            self.encoder.load_state_dict(checkpoint["encoder"])
        if self.lora is not None:
            lora.load_adapter_state(self.encoder, checkpoint["adapter"])
        set_rng_state(checkpoint["rng"])
        self.state = RunState(checkpoint["epoch"], checkpoint["position"], checkpoint["step"])
        self.history, self.losses = checkpoint["history"], checkpoint["losses"]


def open_run(
    run_dir: Path, settings: ProbeSettings, encoder: nn.Module, data: tuple[LabelledSet, ...],
    *, resume: bool, overwrite: bool, allow_change: tuple[str, ...], model_name: str,
) -> tuple[RunFolder, bool]:  # fmt: skip
    """Check the run folder (refuse to clobber a run, refuse a resume with other settings, model
    or data); returns it, with the identity to record once the run is set up, and whether the
    run resumes."""
    folder = RunFolder(run_dir, RUN_FILES, RUN_MARKERS)
    folder.identity = {
        "options": options_json(settings),
        "model": weights_fingerprint(encoder),
        "data": {name: list_digest([(str(e.path.resolve()), e.label) for e in subset.examples]
                                   + [subset.id2label])
                 for name, subset in zip(("train", "val", "test"), data, strict=True)},
        "model_source": model_name,
    }  # fmt: skip
    resuming = folder.open(resume=resume, overwrite=overwrite, main=process_group().is_main)
    process_group().barrier()  # every process has looked at the folder before rank 0 writes
    if resuming:
        folder.check_identity(ProbeSettings, allow_change, legacy_options="settings.json")
    return folder, resuming


def build_run(
    model: VJEPA2Model | VJEPA2ForVideoClassification,
    train: LabelledSet, val: LabelledSet, test: LabelledSet,
    run_dir: Path, settings: ProbeSettings, progress: bool, model_name: str = "",
) -> ProbeRun:  # fmt: skip
    """Feature caches (or the online source), the encoder's trainable part (``--unfreeze``,
    ``--lora-rank``), the probes (from the classifier's head when it fits) and their
    optimiser."""
    backbone, start_head = _split_backbone(model)
    encoder, config = backbone.encoder, backbone.config
    device = next(encoder.parameters()).device
    dtype = parse_dtype(settings.dtype)
    levels = probe_levels(config, settings)
    spec = ClipSpec.for_model(config, frames=settings.frames, frame_step=settings.frame_step,
                              segments=settings.segments, views=settings.views)  # fmt: skip
    timing: dict[str, float] = {}

    def cache(name: str, data: LabelledSet, views: int) -> FeatureCache:
        begin = time.perf_counter()
        built = build_cache(
            run_dir / "features" / name, encoder, data.examples, spec.with_(views=views),
            batch_size=settings.encode_batch_size, workers=settings.workers, dtype=dtype,
            storage=settings.cache_storage, progress=progress, description=f"features: {name}",
            levels=levels,
        )  # fmt: skip
        timing[f"cache_{name}_seconds"] = round(time.perf_counter() - begin, 3)
        return built

    encoder.requires_grad_(False)
    val_cache, test_cache = cache("val", val, settings.views), cache("test", test, settings.views)
    trainable, tuner = nn.ModuleList(), None
    if settings.cache:
        source = training_source(CachedFeatures(cache("train", train, 1)))
    else:
        trainable, tuner = _train_encoder(encoder, settings, model_name)
        transform = None
        if settings.augment:
            transform = TrainTransform(spec.crop_size, scale=settings.augment_scale,
                                       flip_p=settings.flip)  # fmt: skip
        source = OnlineFeatures(train.examples, spec, encoder, transform, settings.seed,
                                settings.workers, dtype, levels)  # fmt: skip
    probes = make_probes(config, len(train.id2label), settings, start_head).to(device)
    groups = []
    for probe, (lr, wd) in zip(probes, settings.head_grid, strict=True):
        groups += param_groups([probe], wd, lr_scale=lr)
    groups += param_groups([trainable], settings.weight_decays[0], lr_scale=settings.lrs[0])
    opt_cls = torch.optim.AdamW if settings.optimizer == "adamw" else torch.optim.Adam
    optimizer = opt_cls(groups, lr=settings.lrs[0])

    def rebuild(name: str) -> FeatureCache:
        return cache(name, val if name == "val" else test, settings.views)

    return ProbeRun(settings, encoder, device, probes, optimizer, source, val_cache, test_cache,
                    lora=tuner, rebuild_cache=rebuild if settings.trains_encoder else None,
                    timing=timing)  # fmt: skip


def _train_encoder(
    encoder: nn.Module, settings: ProbeSettings, model_name: str
) -> tuple[nn.ModuleList, nn.Module | None]:
    """What trains in the encoder: its last ``--unfreeze`` blocks, or LoRA adapters put into
    every block (the adapter records its base model, a local path resolved); returns the
    modules holding the trainable parameters and peft's LoRA tuner (or None)."""
    encoder.gradient_checkpointing = settings.grad_checkpointing
    if not settings.lora_rank:
        return _unfreeze(encoder, settings.unfreeze), None
    base = str(Path(model_name).resolve()) if model_name and Path(model_name).exists() else None
    config = lora.lora_config(
        settings.lora_rank, settings.lora_scale_alpha, settings.lora_dropout,
        settings.lora_targets, base_model=base or model_name or None,
    )  # fmt: skip
    tuner = lora.add_lora(encoder, config)
    return nn.ModuleList([encoder]), tuner  # the adapters: the encoder's only trainable part


def make_probes(
    config, num_classes: int, settings: ProbeSettings, start_head: AttentiveClassifier | None
) -> nn.ModuleList:
    """One freshly initialised probe per (lr, wd) of the grid, its pooler taken from
    ``start_head`` when the shapes match."""
    probes = nn.ModuleList()
    for _ in settings.head_grid:
        probe = make_probe(config.hidden_size, num_classes, settings, config)
        probe.reset_parameters()
        if start_head is not None and _compatible(start_head, probe):
            probe.pooler.load_state_dict(start_head.pooler.state_dict())
        probes.append(probe)
    return probes


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
    overwrite: bool = False,
    allow_change: tuple[str, ...] = (),
    progress: bool = True,
) -> dict[str, Any]:
    """Train probes on ``train``, validate each epoch on ``val``, test the best on ``test``.

    Writes into ``run_dir``: ``run.json`` and ``settings.json`` (what the run is), ``tb/``
    (TensorBoard, when installed), ``checkpoints/latest.pt``, ``features/`` (caches),
    ``metrics.json``, ``confusion_matrix.png``, ``training_curves.png`` (when matplotlib is
    installed), ``model/`` (an HF-format VJEPA2ForVideoClassification) and, with LoRA,
    ``adapter/`` (peft's format; the adapters are merged into ``model/``). A folder that holds a
    run is refused unless ``resume`` (continue it exactly) or ``overwrite`` (start again).
    With ``unfreeze`` or ``lora_rank`` the encoder of ``model`` trains in place (the adapters are
    merged into it at the end). Returns the metrics.
    """
    run_dir = Path(run_dir)
    backbone, _ = _split_backbone(model)
    if settings.lora_rank:
        lora.require_peft()
    if len(train.id2label) < 2:
        log.warning("the training set has a single class (%s): every prediction is that class, "
                    "whatever the video", ", ".join(train.id2label.values()))  # fmt: skip
    folder, resuming = open_run(
        run_dir, settings, backbone.encoder, (train, val, test), resume=resume,
        overwrite=overwrite, allow_change=allow_change, model_name=model_name,
    )  # fmt: skip
    probe_report.check_plotting()
    tensorboard = tensorboard_available()
    torch.manual_seed(settings.seed)
    run = build_run(model, train, val, test, run_dir, settings, progress, model_name)
    checkpoint_path = run_dir / "checkpoints" / "latest.pt"
    if resuming and checkpoint_path.exists():
        run.restore(checkpoint_path)
    main = process_group().is_main
    if main:  # set up without an error: the folder now holds this run
        folder.write_identity()
        write_text_atomic(run_dir / "settings.json", json.dumps(options_json(settings), indent=1))
    writer = summary_writer(run_dir / "tb", run.state.step, tensorboard and main)
    begin = time.perf_counter()
    train_epochs(run, writer, checkpoint_path, progress)
    run.timing["train_seconds"] = round(time.perf_counter() - begin, 3)
    return on_main(lambda: finish(run, backbone, train, run_dir, model_name, writer))


def train_epochs(run: ProbeRun, writer, checkpoint_path: Path, progress: bool) -> None:
    """The recipe: for each epoch, for each batch, sum the probes' cross-entropy, step every
    ``accumulation`` batches; validate at the end of the epoch; checkpoint."""
    settings, state, probes = run.settings, run.state, run.probes
    total_steps = run.steps_per_epoch * settings.epochs
    bar = tqdm(disable=True)

    def batches(epoch: int, start: int):
        nonlocal bar
        probes.train()
        if settings.trains_encoder:
            run.encoder.train()  # LoRA's dropout
        order = epoch_order(len(run.source), settings.seed, epoch)
        bar = tqdm(total=run.batches_per_epoch, initial=start, disable=not progress,
                   desc=f"epoch {epoch + 1}/{settings.epochs}", unit="batch")  # fmt: skip
        yield from run.source.batches(order, settings.batch_size, start, epoch)
        bar.close()

    def train_batch(batch) -> bool:
        tokens, labels = (t.to(run.device) for t in batch)
        logits = [probe(tokens[:, 0]) for probe in probes]  # training uses one view
        loss = sum(F.cross_entropy(lg.float(), labels) for lg in logits)
        (local_loss(run.source, loss) / settings.accumulation).backward()
        mean_loss = batch_loss(run.source, loss) / len(probes)
        bar.update(1)
        bar.set_postfix(loss=f"{mean_loss:.4f}")
        last = state.position == run.batches_per_epoch
        if state.position % settings.accumulation and not last:
            return False
        factor = lr_factor(settings, state.step, total_steps, run.steps_per_epoch)
        set_lr(run.optimizer, factor)
        reduce_gradients(run.source, [probes])
        run.optimizer.step()
        run.optimizer.zero_grad(set_to_none=True)
        state.step += 1
        run.losses.append((state.step, mean_loss))
        writer.add_scalar("train/loss", mean_loss, state.step)
        writer.add_scalar("train/lr", factor * settings.lrs[0], state.step)
        return True

    def end_epoch() -> None:
        run.optimizer.zero_grad(set_to_none=True)
        probes.eval()
        run.refresh_caches("val")
        val_labels = torch.from_numpy(run.val_cache.labels[run.val_cache.valid_rows])
        val_probs = evaluate(probes, run.val_cache, settings.encode_batch_size, run.device)
        val_metrics = [
            {"lr": lr, "weight_decay": wd, "top1": topk_accuracy(p, val_labels, 1),
             "top5": topk_accuracy(p, val_labels, 5)}
            for p, (lr, wd) in zip(val_probs, settings.head_grid, strict=True)
        ]  # fmt: skip
        best = max(val_metrics, key=lambda m: m["top1"])
        run.history.append(
            {"epoch": state.epoch, "train_loss": _epoch_loss(run.losses, run.steps_per_epoch),
             "val": val_metrics, "best_val_top1": best["top1"]}
        )  # fmt: skip
        writer.add_scalar("val/top1", best["top1"], state.step)
        writer.add_scalar("val/top5", best["top5"], state.step)

    plan = LoopPlan(settings.epochs, run.batches_per_epoch, settings.checkpoint_every)
    run_epochs(state, plan, batches, train_batch, lambda: run.save(checkpoint_path), end_epoch)


def finish(
    run: ProbeRun, backbone: VJEPA2Model, train: LabelledSet, run_dir: Path, model_name: str,
    writer,
) -> dict[str, Any]:  # fmt: skip
    """Test the probe that validated best, export it with the backbone as ``model/`` (LoRA
    adapters saved in ``adapter/``, then merged into it), write ``metrics.json`` and the plots;
    returns the metrics."""
    run.probes.eval()
    run.refresh_caches("test")
    final_val = run.history[-1]["val"]
    best_index = max(range(len(final_val)), key=lambda i: final_val[i]["top1"])
    batch_size = run.settings.encode_batch_size
    test_probs = evaluate(run.probes, run.test_cache, batch_size, run.device)[best_index]
    test_labels = torch.from_numpy(run.test_cache.labels[run.test_cache.valid_rows])
    num_val = len(run.val_cache.valid_rows)
    metrics = {
        "recipe": run.settings.recipe,
        "model": model_name,
        "settings": asdict(run.settings),
        "classes": train.id2label,
        "num_examples": {"train": len(run.source), "val": num_val, "test": len(test_labels)},
        "failures": {n: read_failures(run_dir / "features" / n) for n in ("train", "val", "test")},
        "history": run.history,
        "best_probe": {"index": best_index, **final_val[best_index]},
        "test": {
            "top1": topk_accuracy(test_probs, test_labels, 1),
            "top5": topk_accuracy(test_probs, test_labels, 5),
        },
        "timing": run.timing,
    }  # fmt: skip
    writer.add_scalar("test/top1", metrics["test"]["top1"], run.state.step)
    writer.add_scalar("test/top5", metrics["test"]["top5"], run.state.step)
    writer.close()
    if run.lora is not None:
        lora.save_adapter(run.lora, run_dir / "adapter")
        lora.merge_lora(run.lora)
    exported = export_classifier(backbone, run.probes[best_index], run.settings, train.id2label)
    save_model(exported, run_dir / "model")
    probe_report.write(run_dir, metrics, run.losses, test_probs, test_labels, train.id2label)
    return metrics


def export_classifier(backbone: VJEPA2Model, probe: AttentiveClassifier, settings: ProbeSettings,
                      id2label: dict[int, str]) -> nn.Module:  # fmt: skip
    """The backbone and a trained probe as one classifier (HF-format ready; a V-JEPA 2.1
    backbone gives a :class:`VJEPA21ForVideoClassification`, saved in the 2.1 folder format),
    reading the levels the probe was trained on."""
    config = backbone.config
    levels = probe_levels(config, settings)
    heads = probe.pooler.cross_attention_block.xattn.num_heads
    eps = probe.pooler.cross_attention_block.norm1.eps
    changes = dict(
        id2label=dict(id2label), num_pooler_layers=len(probe.pooler.blocks),
        classifier_num_heads=None if heads == config.num_attention_heads else heads,
        classifier_layer_norm_eps=None if eps == config.layer_norm_eps else eps,
        frames_per_clip=settings.frames or config.frames_per_clip,
        **_level_changes(config, levels),
    )  # fmt: skip
    with_predictor = backbone.predictor is not None
    if isinstance(backbone, VJEPA21Model):
        model = VJEPA21ForVideoClassification(config.replace(**changes), with_predictor)
    else:
        config = replace(config, **changes, architectures=None)
        model = VJEPA2ForVideoClassification(config, with_predictor=with_predictor)
    model.backbone.load_state_dict(backbone.state_dict())
    model.head.load_state_dict(probe.state_dict())
    return model.eval()


def _level_changes(config, levels: tuple[int, ...] | None) -> dict[str, Any]:
    """The config fields of the levels a probe reads (V-JEPA 2 configs carry them), the
    anticipation probe's tasks dropped."""
    if not hasattr(config, "out_layers"):
        return {}
    changes: dict[str, Any] = {"out_layers": list(levels) if levels else None}
    if getattr(config, "classifier_tasks", None):
        changes |= {"classifier_tasks": None, "classifier_num_queries": 1}
    return changes


def _compatible(head: AttentiveClassifier, probe: AttentiveClassifier) -> bool:
    ours = {k: v.shape for k, v in probe.pooler.state_dict().items()}
    theirs = {k: v.shape for k, v in head.pooler.state_dict().items()}
    heads = [h.pooler.cross_attention_block.xattn.num_heads for h in (head, probe)]
    same_heads = heads[0] == heads[1]
    return ours == theirs and same_heads


def _unfreeze(encoder: nn.Module, blocks: int) -> nn.ModuleList:
    """Make the last ``blocks`` blocks and the final norm (2.1: the last level's) trainable."""
    if not blocks:
        return nn.ModuleList()
    norm = encoder.norms_block[-1] if hasattr(encoder, "norms_block") else encoder.norm
    trainable = nn.ModuleList([*encoder.blocks[len(encoder.blocks) - blocks :], norm])
    trainable.requires_grad_(True)
    return trainable


def _epoch_loss(losses: list, steps_per_epoch: int) -> float:
    recent = [loss for _, loss in losses[-steps_per_epoch:]]
    return float(np.mean(recent)) if recent else float("nan")
