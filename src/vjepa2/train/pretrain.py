"""Self-supervised V-JEPA pretraining: predict masked video features from the visible ones.

One step, as in the original recipe:

1. A batch of clips ``[B, T, C, H, W]`` (random-resized crop + flip, sampled at ``fps``).
2. The EMA *target encoder* sees the whole clip, without gradients; its tokens are
   layer-normalised (no affine, eps 1e-5): ``h [B, N, D]``.
3. For each mask configuration (short-range and long-range multiblock masks) the *context
   encoder* sees only the context tokens, and the *predictor* fills in the target positions
   from them (mask token 0).
4. loss = mean over masks of mean |prediction − h[targets]|  (L1); with ``motion_weight`` A > 0
   (ours) each target token's error is weighted by 1 + A·(how much its cell changes over time),
   see :func:`motion_change`.
5. AdamW step (lr: linear warmup, then constant or cosine), optional gradient clipping, then
   the target encoder moves towards the context encoder: θ_t ← m·θ_t + (1 − m)·θ_c, with m
   linear from ``ema[0]`` to ``ema[1]`` (or constant).

With ``pred_first`` N > 0 (ours), steps 0..N−1 update the predictor alone (the encoder's
gradients dropped, the target not moved) and the schedules above start at step N.

The cosine and the EMA ramp span ``schedule_scale`` (1.25) times the run's steps, as the original
does, so a run ends with the learning rate above ``final_lr`` and the momentum below ``ema[1]``.

Checkpoints (``RUN_DIR/latest.pt``) use the original layout (``encoder``, ``target_encoder``,
``predictor``, ``opt``, ``epoch``, ...) plus ``config`` and everything needed to resume exactly:
the step, the position inside the epoch and the RNG states. Under ``torchrun`` the context encoder
and predictor are wrapped in DistributedDataParallel; rank 0 alone logs and writes files.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vjepa2 import presets
from vjepa2.config import VJEPA2Config
from vjepa2.data.pretrain_clips import ClipOrder, TrainingClips, iterate_batches, training_videos
from vjepa2.errors import UsageError
from vjepa2.models import VJEPA2Model
from vjepa2.models.encoder import VJEPA2Encoder, gather_tokens, target_features
from vjepa2.models.predictor import VJEPA2Predictor
from vjepa2.models.vjepa2_1 import V21_PRETRAIN_MISSING, VJEPA21PreTrained
from vjepa2.runtime import Distributed, autocast, init_distributed, maybe_compile, parse_dtype
from vjepa2.train.loop import LoopPlan, TimeLimit, run_epochs
from vjepa2.train.masks import sample_masks, step_generator
from vjepa2.train.optim import linear, param_groups, set_lr, warmup_cosine
from vjepa2.train.pretrain_monitor import Monitor
from vjepa2.train.pretrain_options import PREDICTORS, PretrainOptions
from vjepa2.train.run_folder import RunFolder, file_digest, list_digest
from vjepa2.train.state import RunState, load_checkpoint, rng_state, save_atomic, set_rng_state
from vjepa2.video.transforms import TrainTransform
from vjepa2.weights import load
from vjepa2.weights.keymaps import strip_wrappers

__all__ = ["PretrainOptions", "pretrain"]

log = logging.getLogger("vjepa2.pretrain")

WRAPPER = "module.backbone."  # key prefix of the original DDP(MultiSeqWrapper(...)) modules
RUN_FILES = ("run.json", "latest.pt", "epoch-*.pt", "metrics.jsonl", "options.json",
             "config.json", "tb")  # fmt: skip
RUN_MARKERS = ("run.json", "latest.pt", "metrics.jsonl", "options.json")


# -- the objective ----------------------------------------------------------------------------


class ContextPredictor(nn.Module):
    """The trained networks (context encoder + predictor) and the loss, in one module so one
    DistributedDataParallel wrapper covers a whole step. ``pred_context`` "last" gives the
    predictor only the context tokens of the last context time step; "both" runs the predictor
    on all of them and on the last step's, and averages the two losses; "cell" runs it once per
    cell of the token grid on that cell's last-step token alone (:func:`predict_per_cell`)."""

    def __init__(
        self,
        encoder: VJEPA2Encoder,
        predictor: VJEPA2Predictor,
        pred_context: str = "all",
        motion_weight: float = 0.0,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.predictor = predictor
        self.pred_context = pred_context
        self.motion_weight = motion_weight

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
        change = motion_change(targets, hp * wp) if self.motion_weight else None
        losses = []
        for context_idx, target_idx in masks:
            context = self.encoder(clips, masks=context_idx)
            wanted = gather_tokens(targets, target_idx).float()
            weights = None
            if change is not None:
                weights = 1 + self.motion_weight * torch.gather(change, 1, target_idx)
                weights = weights / weights.mean(dim=1, keepdim=True)
            view_losses = [
                weighted_l1(predicted.float(), wanted, weights)
                for predicted in self.predictions(context, context_idx, target_idx, (hp, wp))
            ]
            losses.append(torch.stack(view_losses).mean())
        return torch.stack(losses)

    def predictions(
        self,
        context: torch.Tensor,
        context_idx: torch.Tensor,
        target_idx: torch.Tensor,
        grid_hw: tuple[int, int],
    ) -> list[torch.Tensor]:
        """The predictor's ``[B, Kt, D]`` from each view of the context ``[B, Kc, D]`` that
        ``pred_context`` names."""
        views = []
        if self.pred_context in ("all", "both"):
            views.append((context, context_idx))
        if self.pred_context in ("last", "both"):
            views.append(last_time_step(context, context_idx, grid_hw[0] * grid_hw[1]))
        out = [
            self.predictor(tokens, seen, target_idx, mask_index=0, grid_hw=grid_hw)
            for tokens, seen in views
        ]
        if self.pred_context == "cell":
            out.append(predict_per_cell(self.predictor, context, context_idx, target_idx, grid_hw))
        return out


@torch.no_grad()
def motion_change(targets: torch.Tensor, cells: int) -> torch.Tensor:
    """How much each target token differs from its grid cell's mean over time, ``[B, N]``:
    mean |h − mean_t h| over channels, divided by its mean over the clip's tokens (so 1 is a
    clip's average; static background scores near 0, where something moves scores high).

    Args:
        targets: ``[B, N, D]`` target tokens, flat index = time step × ``cells`` + cell.
    """
    batch, count, dim = targets.shape
    grid = targets.detach().float().view(batch, count // cells, cells, dim)
    change = (grid - grid.mean(dim=1, keepdim=True)).abs().mean(dim=-1).view(batch, count)
    # Targets are layer-normed (unit scale): a clip whose mean change is under 1e-3 is static,
    # and its rounding noise stays near 0 instead of being blown up to mean 1.
    return change / change.mean(dim=1, keepdim=True).clamp_min(1e-3)


def weighted_l1(
    predicted: torch.Tensor, wanted: torch.Tensor, weights: torch.Tensor | None
) -> torch.Tensor:
    """Mean |predicted − wanted| over ``[B, K, D]``, each token's mean over D weighted by
    ``weights`` ``[B, K]`` (mean 1 per clip) when given."""
    error = (predicted - wanted).abs()
    if weights is None:
        return error.mean()
    return (error.mean(dim=-1) * weights).mean()


def predict_per_cell(
    predictor: VJEPA2Predictor,
    context: torch.Tensor,
    context_idx: torch.Tensor,
    target_idx: torch.Tensor,
    grid_hw: tuple[int, int],
) -> torch.Tensor:
    """The predictor run once per cell of the ``grid_hw`` token grid, each time on that cell's
    token at the last context step alone, for that cell's target tokens: what it predicts about
    a cell's future has to be in that one encoder token already (how far the actor is, which way
    it moves). Needs every cell at the last context step and the same number of targets per cell.

    Args:
        context: ``[B, Kc, D]`` encoder tokens at ``context_idx`` ``[B, Kc]``.
        target_idx: ``[B, Kt]`` flat token indices to predict.

    Returns:
        ``[B, Kt, D]``, in ``target_idx``'s order.
    """
    cells = grid_hw[0] * grid_hw[1]
    tokens, seen = last_time_step(context, context_idx, cells)
    (batch, count), dim = target_idx.shape, context.size(-1)
    if seen.size(1) != cells or count % cells:
        raise ValueError(
            f"--pred-context cell needs all {cells} cells at the last context step (got "
            f"{seen.size(1)}) and the same number of targets in each ({count} targets); use "
            "masks such as 1:1:0.5:end"
        )
    by_cell = torch.argsort(seen % cells, dim=1)
    tokens, seen = gather_tokens(tokens, by_cell), torch.gather(seen, 1, by_cell)
    # Targets grouped cell by cell, in time order inside a cell (flat indices are unique).
    order = torch.argsort((target_idx % cells) * (int(target_idx.max()) + 1) + target_idx, dim=1)
    grouped = torch.gather(target_idx, 1, order).view(batch, cells, count // cells)
    if not bool((grouped % cells == torch.arange(cells, device=grouped.device)[:, None]).all()):
        raise ValueError("--pred-context cell needs the same number of targets in every cell")
    predicted = predictor(
        tokens.reshape(batch * cells, 1, dim),
        seen.reshape(batch * cells, 1),
        grouped.reshape(batch * cells, -1),
        mask_index=0,
        grid_hw=grid_hw,
    ).reshape(batch, count, -1)
    return torch.zeros_like(predicted).scatter(1, order[..., None].expand_as(predicted), predicted)


def last_time_step(
    context: torch.Tensor, context_idx: torch.Tensor, cells: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The context tokens ``[B, K, D]`` and their indices ``[B, K]`` at each clip's last
    context time step (flat index // ``cells``); raises when clips keep different counts there."""
    steps = torch.div(context_idx, cells, rounding_mode="floor")
    last = steps == steps.max(dim=1, keepdim=True).values
    counts = last.sum(dim=1)
    if bool((counts != counts[0]).any()):
        raise ValueError(
            "--pred-context last needs the same number of context tokens at every clip's last "
            f"context time step (got {sorted(set(counts.tolist()))}); use masks such as "
            "1:1:0.5:end"
        )
    # Stable sort puts each clip's last-step tokens at the end, in their original order.
    picked = torch.sort(last.to(torch.int8), dim=1, stable=True).indices[:, -int(counts[0]) :]
    return gather_tokens(context, picked), torch.gather(context_idx, 1, picked)


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
    ``--arch``'s, with the ``--predictor`` shape and the ``--set`` overrides, at the training
    crop size and clip length."""
    if init is not None:
        config = init.replace(id2label=None, architectures=None)
    elif opts.config:
        config = VJEPA2Config.from_json_file(opts.config)
    else:
        config = presets.architecture(opts.arch)
    try:
        fields = {**PREDICTORS[opts.predictor], **opts.overrides}
        config = config.replace(**fields, crop_size=opts.crop_size, frames_per_clip=opts.frames)
        config.validate()
    except (TypeError, ValueError) as err:
        raise UsageError(f"--arch/--config/--set: {err}") from None
    if opts.frames % config.tubelet_size:
        raise UsageError(f"--frames {opts.frames}: a clip must be a multiple of the tubelet size "
                         f"({config.tubelet_size} frames)")  # fmt: skip
    return config


def load_init(source: str) -> tuple[VJEPA2Model, VJEPA2Encoder | None]:
    """The model to continue pretraining from, and its EMA target encoder when the source is an
    original ``.pt`` that has one."""
    model = load(source)
    if isinstance(model, VJEPA21PreTrained):
        raise UsageError(f"{source}: {V21_PRETRAIN_MISSING}")
    model = model.backbone if hasattr(model, "backbone") else model  # a classifier: its encoder
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


def open_run(
    opts: PretrainOptions, videos: list[Path], ddp: Distributed
) -> tuple[RunFolder, dict | None]:
    """Check the run folder (refuse to clobber a run, refuse a resume with other options or
    data); returns it, with the run's identity to record once set up, and the checkpoint to
    resume from, if any."""
    folder = RunFolder(Path(opts.out), RUN_FILES, RUN_MARKERS)
    folder.identity = {
        "options": opts.to_json(),
        "data": list_digest(str(p.resolve()) for p in videos),
        "config": file_digest(opts.config),
        "init": file_digest(opts.init),
    }
    return folder, folder.open_checkpointed(
        PretrainOptions, opts, ddp, legacy_options="options.json"
    )


# -- checkpoints ------------------------------------------------------------------------------


def _wrapped(module: nn.Module) -> dict[str, torch.Tensor]:
    return {WRAPPER + k: v.detach().cpu() for k, v in module.state_dict().items()}


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


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Pretraining:
    """What one pretraining run works with, built by :func:`setup`."""

    opts: PretrainOptions
    ddp: Distributed
    device: torch.device
    dtype: torch.dtype
    config: VJEPA2Config
    encoder: VJEPA2Encoder
    predictor: VJEPA2Predictor
    target: VJEPA2Encoder
    trained: ContextPredictor
    model: nn.Module  # ``trained``, wrapped in DistributedDataParallel under torchrun
    optimizer: torch.optim.Optimizer
    order: ClipOrder
    clips: TrainingClips
    state: RunState
    folder: RunFolder
    loss: float = math.nan
    lr: float = 0.0
    clipped_steps: int = 0  # steps of this session on which gradient clipping bound

    @property
    def total_steps(self) -> int:
        return self.opts.epochs * self.order.steps_per_epoch

    def save(self, *paths: Path) -> None:
        """Write the checkpoint to ``paths`` (rank 0 only)."""
        if not self.ddp.is_main:
            return
        checkpoint = checkpoint_state(
            self.encoder, self.predictor, self.target, self.optimizer, self.config,
            epoch=self.state.epoch, batch_in_epoch=self.state.position, step=self.state.step,
            loss=self.loss, lr=self.lr, batch_size=self.opts.batch_size,
            world_size=self.ddp.world_size, opts=self.opts,
        )  # fmt: skip
        for path in paths:
            save_atomic(checkpoint, path)


def setup(opts: PretrainOptions) -> Pretraining:
    """Processes, run folder, networks, optimiser and data; restored from ``latest.pt`` on
    ``--resume``."""
    ddp, device = init_distributed(opts.device)
    dtype = parse_dtype(opts.dtype if opts.dtype != "auto" else _auto_dtype(device))
    videos = training_videos(opts.data)
    folder, checkpoint = open_run(opts, videos, ddp)
    init, init_target = load_init(opts.init) if opts.init and not checkpoint else (None, None)
    if checkpoint:
        config = VJEPA2Config.from_dict(checkpoint["config"])
    else:
        config = model_config(opts, init.config if init is not None else None)
    encoder, predictor, target = build_networks(config, opts.seed, init, init_target)
    trained = ContextPredictor(encoder, predictor, opts.pred_context, opts.motion_weight)
    trained = trained.to(device)
    target.to(device)
    optimizer = torch.optim.AdamW(
        optimizer_groups(encoder, predictor, opts), betas=(0.9, 0.999), eps=1e-8
    )
    transform = TrainTransform(crop_size=opts.crop_size, scale=opts.crop_scale)
    order = ClipOrder(len(videos), opts.batch_size, opts.seed, ddp.rank, ddp.world_size)
    total = opts.epochs * order.steps_per_epoch
    if opts.pred_first >= total:
        raise UsageError(f"--pred-first {opts.pred_first}: the run has only {total} steps; "
                         "leave some for the encoder")  # fmt: skip
    clips = TrainingClips(videos, transform, opts.frames, opts.fps, opts.seed,
                          cache=opts.cache_frames, cache_workers=opts.workers)  # fmt: skip
    state = RunState()
    if checkpoint:
        encoder.load_state_dict(strip_wrappers(checkpoint["encoder"]))
        predictor.load_state_dict(strip_wrappers(checkpoint["predictor"]))
        target.load_state_dict(strip_wrappers(checkpoint["target_encoder"]))
        optimizer.load_state_dict(checkpoint["opt"])
        state = RunState(checkpoint["epoch"], checkpoint["batch_in_epoch"], checkpoint["step"])
        set_rng_state(checkpoint["rng"])
    maybe_compile(trained, opts.compile, "context encoder + predictor", log.info)
    maybe_compile(target, opts.compile, "target encoder", log.info)
    model: nn.Module = trained
    if ddp.enabled:
        ids = [device.index] if device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(trained, device_ids=ids)
    return Pretraining(opts, ddp, device, dtype, config, encoder, predictor, target, trained,
                       model, optimizer, order, clips, state, folder, lr=opts.start_lr)  # fmt: skip


def optimizer_groups(encoder: nn.Module, predictor: nn.Module, opts: PretrainOptions) -> list[dict]:
    """AdamW's parameter groups: decayed weights and undecayed biases and norms of both
    networks, the predictor's split off with its own ``lr_scale`` when ``pred_lr_scale`` is not
    1 or ``pred_first`` is set (so runs made before the options resume with the two groups they
    saved)."""
    if opts.pred_lr_scale == 1.0 and not opts.pred_first:
        return param_groups([encoder, predictor], opts.weight_decay)
    return param_groups([encoder], opts.weight_decay) + param_groups(
        [predictor], opts.weight_decay, lr_scale=opts.pred_lr_scale
    )


def learning_rate(opts: PretrainOptions, step: int, steps_per_epoch: int) -> float:
    """The learning rate of ``step``: linear warmup from ``start_lr`` to ``lr`` over ``warmup``
    epochs, then constant, or a cosine to ``final_lr`` reached at ``schedule_scale`` × the run's
    steps (held there after); with ``pred_first``, ``lr`` before it and the schedule after it."""
    if step < opts.pred_first:  # the predictor alone, at the peak rate
        return opts.lr
    warmup_steps = round(opts.warmup * steps_per_epoch)
    horizon = _horizon(opts, steps_per_epoch)
    final_lr = opts.lr if opts.final_lr is None else opts.final_lr
    return warmup_cosine(step - opts.pred_first, warmup_steps, horizon, opts.lr, opts.start_lr,
                         final_lr)  # fmt: skip


def ema_momentum(opts: PretrainOptions, step: int, steps_per_epoch: int) -> float:
    """The EMA momentum of ``step``: ``ema[0]`` throughout (``ema_schedule`` constant), or linear
    from ``ema[0]`` at step 0 (``pred_first``) to ``ema[1]`` at ``schedule_scale`` × the run's
    steps (ramp)."""
    if opts.ema_schedule == "constant":
        return opts.ema[0]
    return linear(max(0, step - opts.pred_first), _horizon(opts, steps_per_epoch), *opts.ema)


def _horizon(opts: PretrainOptions, steps_per_epoch: int) -> int:
    """Steps the cosine and the EMA ramp span: ``schedule_scale`` × the run's steps, less the
    predictor-alone steps that come before them."""
    return round(opts.schedule_scale * opts.epochs * steps_per_epoch) - opts.pred_first


def clip_gradients(parameters: list[nn.Parameter], max_norm: float | None) -> tuple[float, bool]:
    """The total gradient norm of ``parameters`` before clipping, and whether clipping to
    ``max_norm`` (None or 0: off) bound, i.e. scaled the gradients down."""
    with_grad = [p for p in parameters if p.grad is not None]
    norm = nn.utils.get_total_norm([p.grad for p in with_grad])
    if not max_norm:
        return float(norm), False
    nn.utils.clip_grads_with_norm_(with_grad, max_norm, norm)
    return float(norm), bool(norm > max_norm)


def train_step(run: Pretraining, clips: torch.Tensor, weight: float) -> tuple[Any, ...]:
    """One optimiser step on ``clips`` ``[B, T, C, H, W]``: targets, masked prediction, L1 loss
    per mask, AdamW, EMA. Returns (losses averaged over processes ``[M]``, momentum, grad norm
    before clipping, whether clipping bound (None when off), targets ``[B, N, D]``)."""
    opts, step = run.opts, run.state.step
    alone = step < opts.pred_first  # the predictor alone: encoder and target held still
    run.lr = learning_rate(opts, step, run.order.steps_per_epoch)
    set_lr(run.optimizer, run.lr)
    momentum = ema_momentum(opts, step, run.order.steps_per_epoch)
    grid = run.encoder.token_grid(clips.shape)
    generator = step_generator(opts.seed, step, run.ddp.rank)
    masks = [
        (context_idx.to(run.device), target_idx.to(run.device))
        for context_idx, target_idx in sample_masks(clips.size(0), grid, opts.masks, generator)
    ]
    with autocast(run.device, run.dtype):
        targets = target_features(run.target, clips)
        losses = run.model(clips, masks, targets)
    loss = losses.mean() * weight
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if alone:  # AdamW skips parameters without a gradient: no update, no moments
        for param in run.encoder.parameters():
            param.grad = None
    grad_norm, bound = clip_gradients(list(run.trained.parameters()), opts.clip_grad)
    run.optimizer.step()
    if not alone:
        ema_update(run.target, run.encoder, momentum)
    run.state.step += 1
    clipped = bound if opts.clip_grad else None
    return run.ddp.mean(losses.detach().float()), momentum, grad_norm, clipped, targets


def pretrain(opts: PretrainOptions) -> dict[str, Any]:
    """Run (or resume) pretraining; returns a summary (steps, last loss, checkpoint path)."""
    run = setup(opts)
    out, state = Path(opts.out), run.state
    first_step = state.step
    if run.ddp.is_main:
        run.folder.write_identity()  # set up without an error: the folder now holds this run
    monitor = Monitor(out, run.config, opts, run.total_steps, enabled=run.ddp.is_main,
                      resumed_step=state.step)  # fmt: skip
    _log_start(run)
    last_step = run.total_steps if opts.max_steps is None else min(run.total_steps, opts.max_steps)
    reported: set[str] = set()  # unreadable files, each logged once
    blank = (1, opts.frames, run.config.in_chans, opts.crop_size, opts.crop_size)

    def batches(epoch: int, start: int):
        keys = run.order.batches(epoch, start=start)[: last_step - state.step]
        return iterate_batches(run.clips, keys, opts.workers)

    def train_batch(batch) -> bool:
        clips, skipped = batch
        for item in skipped:
            if item.path not in reported:
                log.warning("skipping %s: %s", item.path, item.reason)
                reported.add(item.path)
        weight = 0.0 if clips is None else 1.0  # no readable file: a zero-weight step keeps DDP
        clips = torch.zeros(blank) if clips is None else clips  # in step
        losses, momentum, grad_norm, clipped, targets = train_step(
            run, clips.to(run.device, non_blocking=True), weight
        )
        run.loss = float(losses.mean())
        run.clipped_steps += bool(clipped)
        monitor.step(
            step=state.step, epoch=state.epoch, losses=losses.tolist(), lr=run.lr,
            momentum=momentum, grad_norm=grad_norm, clips=clips.size(0) * run.ddp.world_size,
            targets=targets, skipped=len(skipped), clipped=clipped,
        )  # fmt: skip
        return True

    def end_epoch() -> None:
        if opts.keep_epochs:
            run.save(out / f"epoch-{state.epoch:04d}.pt")
        if opts.probe_data and state.epoch % opts.probe_every == 0:
            monitor.evaluate(run.target, opts.probe_data, run.device, run.dtype, state.step)

    plan = LoopPlan(opts.epochs, run.order.steps_per_epoch, opts.checkpoint_every, last_step)
    limit = TimeLimit(opts.time_limit, run.ddp.any)
    run_epochs(state, plan, batches, train_batch, lambda: run.save(out / "latest.pt"), end_epoch,
               limit)  # fmt: skip
    if limit.reached and run.ddp.is_main:
        log.info("--time-limit %g min reached at step %d: latest.pt written, --resume continues",
                 opts.time_limit, state.step)  # fmt: skip
    monitor.close()
    run.ddp.barrier()
    if opts.clip_grad and run.ddp.is_main:
        log.info("gradient clipping to %g bound on %d of the %d steps of this session",
                 opts.clip_grad, run.clipped_steps, state.step - first_step)  # fmt: skip
    return {"steps": state.step, "epoch": state.epoch, "loss": run.loss,
            "checkpoint": str(out / "latest.pt"), "rank": run.ddp.rank,
            "clipped_steps": run.clipped_steps}  # fmt: skip


def _log_start(run: Pretraining) -> None:
    if run.ddp.is_main:
        log.info(
            "%d videos, %d steps per epoch (batch %d × %d processes), %d steps in all; "
            "encoder %.2fM + predictor %.2fM parameters on %s (%s)",
            len(run.clips), run.order.steps_per_epoch, run.opts.batch_size, run.ddp.world_size,
            run.total_steps, _millions(run.encoder), _millions(run.predictor), run.device,
            str(run.dtype).removeprefix("torch."),
        )  # fmt: skip


def _auto_dtype(device: torch.device) -> str:
    return "bf16" if device.type == "cuda" else "fp32"


def _millions(module: nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6
