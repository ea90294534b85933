"""Self-supervised V-JEPA pretraining: predict masked video features from the visible ones.

One step, as in the original recipe:

1. A batch of clips ``[B, T, C, H, W]`` (random-resized crop + flip, sampled at ``fps``).
2. The EMA *target encoder* sees the whole clip, without gradients; its tokens are
   layer-normalised (no affine, eps 1e-5): ``h [B, N, D]``.
3. For each mask configuration (short-range and long-range multiblock masks) the *context
   encoder* sees only the context tokens, and the *predictor* fills in the target positions
   from them (mask token 0).
4. loss = mean over masks of mean |prediction − h[targets]|  (L1).
5. AdamW step (lr: linear warmup, then constant or cosine), gradient clipping, then the target
   encoder moves towards the context encoder: θ_t ← m·θ_t + (1 − m)·θ_c, with m linear from
   ``ema[0]`` to ``ema[1]`` over the run.

Checkpoints (``RUN_DIR/latest.pt``) use the original layout (``encoder``, ``target_encoder``,
``predictor``, ``opt``, ``epoch``, ...) plus ``config`` and everything needed to resume exactly:
the step, the position inside the epoch and the RNG states. Under ``torchrun`` the context encoder
and predictor are wrapped in DistributedDataParallel; rank 0 alone logs and writes files.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from vjepa2.config import VJEPA2Config
from vjepa2.data.pretrain_clips import ClipOrder, TrainingClips, iterate_batches, training_videos
from vjepa2.models import VJEPA2Model
from vjepa2.models.encoder import VJEPA2Encoder, gather_tokens
from vjepa2.models.predictor import VJEPA2Predictor
from vjepa2.train.masks import DEFAULT_MASKS, MaskConfig, sample_masks, step_generator
from vjepa2.train.optim import linear, param_groups, set_lr, warmup_cosine
from vjepa2.train.pretrain_monitor import Monitor
from vjepa2.train.state import load_checkpoint, rng_state, save_atomic, set_rng_state

log = logging.getLogger("vjepa2.pretrain")

TARGET_LAYER_NORM_EPS = 1e-5
WRAPPER = "module.backbone."  # key prefix of the original DDP(MultiSeqWrapper(...)) modules


@dataclass
class PretrainOptions:
    """Everything ``vjepa2 pretrain`` takes; see the CLI help for each option."""

    data: str
    out: Path
    arch: str = "vit-tiny"
    config: str | None = None
    init: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 16
    lr: float = 5.25e-4
    start_lr: float = 1e-4
    final_lr: float | None = None
    warmup: float = 1.0
    weight_decay: float = 0.04
    ema: tuple[float, float] = (0.99925, 1.0)
    clip_grad: float | None = 10.0
    frames: int = 16
    fps: float = 4.0
    crop_size: int = 256
    crop_scale: tuple[float, float] = (0.3, 1.0)
    masks: tuple[MaskConfig, ...] = DEFAULT_MASKS
    workers: int = 2
    cache_frames: bool = False
    device: str = "auto"
    dtype: str = "auto"
    seed: int = 0
    resume: bool = False
    checkpoint_every: int = 0
    keep_epochs: bool = False
    log_every: int = 10
    probe_data: str | None = None
    probe_every: int = 1
    max_steps: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The options as JSON values, masks as their ``--mask`` text (options.json and the
        checkpoint's ``options``)."""
        values = json.loads(json.dumps(asdict(self), default=str))
        values["masks"] = [mask.spec() for mask in self.masks]
        return values


# -- the objective ----------------------------------------------------------------------------


class ContextPredictor(nn.Module):
    """The trained networks (context encoder + predictor) and the loss, in one module so one
    DistributedDataParallel wrapper covers a whole step."""

    def __init__(self, encoder: VJEPA2Encoder, predictor: VJEPA2Predictor) -> None:
        super().__init__()
        self.encoder = encoder
        self.predictor = predictor

    def forward(
        self,
        clips: torch.Tensor,
        masks: list[tuple[torch.Tensor, torch.Tensor]],
        targets: torch.Tensor,
    ) -> torch.Tensor:
        """L1 loss per mask configuration, ``[M]``.

        Args:
            clips: ``[B, T, C, H, W]``.
            masks: per configuration, ``(context_idx [B, Kc], target_idx [B, Kt])``.
            targets: the layer-normed target-encoder tokens ``[B, N, D]``.
        """
        _, hp, wp = self.encoder.token_grid(clips.shape)
        losses = []
        for context_idx, target_idx in masks:
            context = self.encoder(clips, masks=context_idx)
            predicted = self.predictor(
                context, context_idx, target_idx, mask_index=0, grid_hw=(hp, wp)
            )
            wanted = gather_tokens(targets, target_idx)
            losses.append((predicted.float() - wanted.float()).abs().mean())
        return torch.stack(losses)


@torch.no_grad()
def target_features(target_encoder: VJEPA2Encoder, clips: torch.Tensor) -> torch.Tensor:
    """The regression targets: target-encoder tokens of the whole clip, layer-normalised without
    affine parameters. ``[B, T, C, H, W]`` -> ``[B, N, D]``."""
    tokens = target_encoder(clips)
    return F.layer_norm(tokens.float(), tokens.shape[-1:], eps=TARGET_LAYER_NORM_EPS)


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """θ_target ← momentum·θ_target + (1 − momentum)·θ_online, for every parameter."""
    target_params = list(target.parameters())
    online_params = [p.detach() for p in online.parameters()]
    torch._foreach_mul_(target_params, momentum)
    torch._foreach_add_(target_params, online_params, alpha=1.0 - momentum)


# -- setting up -------------------------------------------------------------------------------


def model_config(opts: PretrainOptions, init: VJEPA2Config | None = None) -> VJEPA2Config:
    """The architecture to train: ``init``'s (continued pretraining), ``--config``'s or
    ``--arch``'s, with the ``--set`` overrides, at the training crop size and clip length."""
    from vjepa2 import presets

    if init is not None:
        config = init.replace(id2label=None, architectures=None)
    elif opts.config:
        config = VJEPA2Config.from_json_file(opts.config)
    else:
        config = presets.architecture(opts.arch)
    config = config.replace(**opts.overrides, crop_size=opts.crop_size, frames_per_clip=opts.frames)
    config.validate()
    return config


def load_init(source: str) -> tuple[VJEPA2Model, VJEPA2Encoder | None]:
    """The model to continue pretraining from, and its EMA target encoder when the source is an
    original ``.pt`` that has one."""
    from vjepa2.weights import load

    model = load(source)
    if not isinstance(model, VJEPA2Model):
        model = model.backbone  # a classifier checkpoint: keep its encoder (and predictor)
    target = None
    if Path(source).suffix in (".pt", ".pth") and "target_encoder" in load_checkpoint(source):
        target = load(source, checkpoint_key="target_encoder").encoder
    return model, target


def build_networks(
    config: VJEPA2Config,
    seed: int,
    init: VJEPA2Model | None = None,
    init_target: VJEPA2Encoder | None = None,
) -> tuple[VJEPA2Encoder, VJEPA2Predictor, VJEPA2Encoder]:
    """Context encoder, predictor and target encoder: the original init (seeded), then the
    weights of ``init`` (and ``init_target``) when continuing; the target starts as a copy of
    the context encoder otherwise."""
    torch.manual_seed(seed)
    model = VJEPA2Model(config)
    model.reset_parameters()
    if init is not None:
        model.encoder.load_state_dict(init.encoder.state_dict())
        if init.predictor is not None:
            model.predictor.load_state_dict(init.predictor.state_dict())
    target = copy.deepcopy(model.encoder)
    if init_target is not None:
        target.load_state_dict(init_target.state_dict())
    target.requires_grad_(False)
    # Pretraining uses mask token 0 only; the others (kept for the released layout) stay frozen.
    for i, token in enumerate(model.predictor.mask_tokens):
        token.requires_grad_(i == 0)
    return model.encoder, model.predictor, target


@dataclass
class Distributed:
    """Where this process sits in a torchrun job (rank 0 of 1 without one)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_name: str) -> tuple[Distributed, torch.device]:
    """Join the torchrun process group (gloo on CPU, nccl on CUDA) when launched under it."""
    from vjepa2.runtime import pick_device

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Distributed(), pick_device(device_name)
    info = Distributed(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", 0)))
    device = pick_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return info, device


# -- checkpoints ------------------------------------------------------------------------------


def _wrapped(module: nn.Module) -> dict[str, torch.Tensor]:
    return {WRAPPER + k: v.detach().cpu() for k, v in module.state_dict().items()}


def _unwrapped(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    from vjepa2.weights.keymaps import strip_wrappers

    return strip_wrappers(state)


def checkpoint_state(
    encoder: nn.Module,
    predictor: nn.Module,
    target: nn.Module,
    optimizer: torch.optim.Optimizer,
    config: VJEPA2Config,
    *,
    epoch: int,
    batch_in_epoch: int,
    step: int,
    loss: float,
    lr: float,
    batch_size: int,
    world_size: int,
    opts: PretrainOptions,
) -> dict[str, Any]:
    """The original pretraining layout plus what an exact resume needs.

    ``epoch`` counts finished epochs and ``batch_in_epoch`` the batches done in the next one.
    """
    return {
        "encoder": _wrapped(encoder),
        "predictor": _wrapped(predictor),
        "target_encoder": _wrapped(target),
        "opt": optimizer.state_dict(),
        "epoch": epoch,
        "loss": loss,
        "batch_size": batch_size,
        "world_size": world_size,
        "lr": lr,
        "config": config.to_dict(),
        "step": step,
        "batch_in_epoch": batch_in_epoch,
        "seed": opts.seed,
        "rng": rng_state(),
        "options": opts.to_json(),
    }


# -- the loop ---------------------------------------------------------------------------------


def pretrain(opts: PretrainOptions) -> dict[str, Any]:
    """Run (or resume) pretraining; returns a summary (steps, last loss, checkpoint path)."""
    from vjepa2.runtime import autocast, parse_dtype
    from vjepa2.video.transforms import TrainTransform

    ddp_info, device = init_distributed(opts.device)
    dtype = parse_dtype(opts.dtype if opts.dtype != "auto" else _auto_dtype(device))
    out = Path(opts.out)
    latest = out / "latest.pt"
    resume_from = load_checkpoint(latest) if opts.resume and latest.exists() else None
    if opts.resume and resume_from is None and ddp_info.is_main:
        log.warning("--resume: no %s yet, starting a new run", latest)

    init, init_target = None, None
    if opts.init and not resume_from:
        init, init_target = load_init(opts.init)
    if resume_from:
        config = VJEPA2Config.from_dict(resume_from["config"])
    else:
        config = model_config(opts, init.config if init is not None else None)
    encoder, predictor, target = build_networks(config, opts.seed, init, init_target)
    trained = ContextPredictor(encoder, predictor).to(device)
    target.to(device)
    optimizer = torch.optim.AdamW(
        param_groups([encoder, predictor], opts.weight_decay), betas=(0.9, 0.999), eps=1e-8
    )

    paths = training_videos(opts.data)
    order = ClipOrder(len(paths), opts.batch_size, opts.seed, ddp_info.rank, ddp_info.world_size)
    transform = TrainTransform(crop_size=opts.crop_size, scale=opts.crop_scale)
    clips_data = TrainingClips(
        paths, transform, opts.frames, opts.fps, opts.seed, cache=opts.cache_frames
    )
    steps_per_epoch = order.steps_per_epoch
    total_steps = opts.epochs * steps_per_epoch
    warmup_steps = round(opts.warmup * steps_per_epoch)
    final_lr = opts.lr if opts.final_lr is None else opts.final_lr
    grid = encoder.token_grid((1, opts.frames, config.in_chans, opts.crop_size, opts.crop_size))

    epoch, batch_in_epoch, step = 0, 0, 0
    if resume_from:
        encoder.load_state_dict(_unwrapped(resume_from["encoder"]))
        predictor.load_state_dict(_unwrapped(resume_from["predictor"]))
        target.load_state_dict(_unwrapped(resume_from["target_encoder"]))
        optimizer.load_state_dict(resume_from["opt"])
        epoch, batch_in_epoch = resume_from["epoch"], resume_from["batch_in_epoch"]
        step = resume_from["step"]
        set_rng_state(resume_from["rng"])
    model = trained
    if ddp_info.enabled:
        model = nn.parallel.DistributedDataParallel(
            trained, device_ids=[device.index] if device.type == "cuda" else None
        )

    monitor = Monitor(out, config, opts, total_steps, enabled=ddp_info.is_main, resumed_step=step)

    def save(*paths: Path) -> None:
        if ddp_info.is_main:
            state = checkpoint_state(
                encoder, predictor, target, optimizer, config, epoch=epoch,
                batch_in_epoch=batch_in_epoch, step=step, loss=loss_value, lr=lr,
                batch_size=opts.batch_size, world_size=ddp_info.world_size, opts=opts,
            )  # fmt: skip
            for path in paths:
                save_atomic(state, path)

    if ddp_info.is_main:
        log.info(
            "%d videos, %d steps per epoch (batch %d × %d processes), %d steps in all; "
            "encoder %.2fM + predictor %.2fM parameters on %s (%s)",
            len(paths), steps_per_epoch, opts.batch_size, ddp_info.world_size, total_steps,
            _millions(encoder), _millions(predictor), device, str(dtype).removeprefix("torch."),
        )  # fmt: skip

    last_step = total_steps if opts.max_steps is None else min(total_steps, opts.max_steps)
    loss_value, lr = math.nan, opts.start_lr
    reported: set[str] = set()  # unreadable files, each logged once
    while step < last_step:
        batches = order.batches(epoch, start=batch_in_epoch)[: last_step - step]
        for clips, skipped in iterate_batches(clips_data, batches, opts.workers):
            for item in skipped:
                if item.path not in reported:
                    log.warning("skipping %s: %s", item.path, item.reason)
                    reported.add(item.path)
            weight = 1.0
            if (
                clips is None
            ):  # every file of the batch failed: a zero-weight step keeps DDP in step
                clips = torch.zeros(1, opts.frames, config.in_chans, opts.crop_size, opts.crop_size)
                weight = 0.0
            clips = clips.to(device, non_blocking=True)

            lr = warmup_cosine(step, warmup_steps, total_steps, opts.lr, opts.start_lr, final_lr)
            set_lr(optimizer, lr)
            momentum = linear(step, total_steps, *opts.ema)
            generator = step_generator(opts.seed, step, ddp_info.rank)
            masks = [
                (context_idx.to(device), target_idx.to(device))
                for context_idx, target_idx in sample_masks(
                    clips.size(0), grid, opts.masks, generator
                )
            ]
            with autocast(device, dtype):
                targets = target_features(target, clips)
                losses = model(clips, masks, targets)
            loss = losses.mean() * weight
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = None
            if opts.clip_grad:
                grad_norm = float(nn.utils.clip_grad_norm_(trained.parameters(), opts.clip_grad))
            optimizer.step()
            ema_update(target, encoder, momentum)
            step += 1
            batch_in_epoch += 1

            reduced = losses.detach().float()
            if ddp_info.enabled:
                dist.all_reduce(reduced)
                reduced /= ddp_info.world_size
            loss_value = float(reduced.mean())
            monitor.step(
                step=step, epoch=epoch, losses=reduced.tolist(), lr=lr, momentum=momentum,
                grad_norm=grad_norm, clips=clips.size(0) * ddp_info.world_size, targets=targets,
                skipped=len(skipped),
            )  # fmt: skip
            if opts.checkpoint_every and step % opts.checkpoint_every == 0:
                save(latest)

        epoch_done = batch_in_epoch == steps_per_epoch
        if epoch_done:
            epoch, batch_in_epoch = epoch + 1, 0
        paths = [latest]
        if epoch_done and opts.keep_epochs:
            paths.append(out / f"epoch-{epoch:04d}.pt")
        save(*paths)
        if epoch_done and opts.probe_data and epoch % opts.probe_every == 0:
            monitor.probe(target, opts.probe_data, device, dtype, step)
    monitor.close()
    if ddp_info.enabled:
        dist.barrier()
    return {"steps": step, "epoch": epoch, "loss": loss_value, "checkpoint": str(latest),
            "rank": ddp_info.rank}  # fmt: skip


def _auto_dtype(device: torch.device) -> str:
    return "bf16" if device.type == "cuda" else "fp32"


def _millions(module: nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6
