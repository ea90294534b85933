"""``vjepa2 train-ac``: post-train V-JEPA 2-AC's action-conditioned predictor on robot trajectories.

One step, as the original (``app/vjepa_droid/train.py``), on cached encodings:

1. A batch of clips: frame encodings ``h [B, F*N, D]`` of the frozen encoder (cached on disk
   once, see `vjepa2.train.ac_data`), actions ``[B, F-1, A]``, states ``[B, F, S]``.
2. ``wm.losses(h, actions, states, rollout_steps)``: the teacher-forcing L1 loss (predict frames
   1..F-1 from the true frames 0..F-2) and the rollout L1 loss (``rollout_steps`` frames
   predicted from the model's own predictions); the loss is their sum.
3. AdamW (weight decay off biases and norms) with the warmup-stable-decay schedule: linear
   warmup from ``start_lr`` to ``lr``, constant, linear decay to ``final_lr`` over the last
   ``decay`` epochs; optional gradient-norm clipping; bf16 autocast on CUDA.

The run folder holds ``latest.pt`` (the predictor, the optimiser, the counters and the RNG
states: an exact resume), ``model/`` (the whole world model in our format, loadable with
``vjepa2.load``; written at the end), ``run.json``, ``metrics.jsonl``, ``tb/`` and ``cache/``.
Under ``torchrun`` the predictor is wrapped in DistributedDataParallel, every process encodes its
share of the episodes into the cache, and rank 0 alone validates, logs and writes files.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vjepa2.data.lerobot import is_lerobot
from vjepa2.data.trajectories import actions_from_states, list_episodes
from vjepa2.errors import UsageError
from vjepa2.runtime import Distributed, autocast, init_distributed, parse_dtype
from vjepa2.train import ac_data
from vjepa2.train.ac_data import Batch, CachedEpisode
from vjepa2.train.ac_monitor import ACMonitor
from vjepa2.train.ac_options import TrainACOptions
from vjepa2.train.loop import LoopPlan, TimeLimit, run_epochs
from vjepa2.train.optim import param_groups, set_lr
from vjepa2.train.run_folder import RunFolder, file_digest, list_digest
from vjepa2.train.state import RunState, rng_state, save_atomic, set_rng_state
from vjepa2.weights import load
from vjepa2.world_model import FrameTransform, VJEPA2ACConfig, WorldModel, load_world_model

__all__ = ["TrainACOptions", "train_ac", "warmup_stable_decay"]

log = logging.getLogger("vjepa2.train_ac")

RUN_FILES = ("run.json", "latest.pt", "metrics.jsonl", "model", "tb")  # cache/ is kept
RUN_MARKERS = ("run.json", "latest.pt", "metrics.jsonl")


def warmup_stable_decay(
    step: int, warmup: int, decay: int, total: int, ref: float, start: float, final: float
) -> float:
    """The original's WSD schedule at ``step``: linear from ``start`` to ``ref`` over ``warmup``
    steps, ``ref`` until ``total - decay``, then linear to ``final`` at ``total``."""
    if step < warmup:
        return start + (ref - start) * step / warmup
    decay_start = total - decay
    if decay <= 0 or step < decay_start:
        return ref
    return ref + (final - ref) * min(1.0, (step - decay_start) / decay)


class ACObjective(nn.Module):
    """The trained predictor and the loss in one module, so one DistributedDataParallel wrapper
    covers a step; the frozen encoder is not part of it."""

    def __init__(self, wm: WorldModel, rollout_steps: int) -> None:
        super().__init__()
        self.predictor = wm.predictor
        self.world_model_losses = wm.losses  # a bound method: the encoder stays unregistered
        self.rollout_steps = rollout_steps

    def forward(self, h: torch.Tensor, actions: torch.Tensor, states: torch.Tensor):
        """``[2]``: teacher-forcing and rollout losses of ``h [B, F*N, D]``, actions
        ``[B, F-1, A]``, states ``[B, F, S]``."""
        return torch.stack(self.world_model_losses(h, actions, states, self.rollout_steps))


# -- setting up -------------------------------------------------------------------------------


def build_world_model(opts: TrainACOptions) -> WorldModel:
    """The world model to train: ``--model`` (with ``--config`` for a Meta .pt of another size
    than the released one), or a fresh predictor (seeded original init) of ``--config`` on the
    ``--encoder``. The encoder is frozen (and the extrinsics encoder unless it is used), the
    predictor in training mode, on the CPU."""
    if opts.model is not None:
        wm = load_world_model(opts.model, config=opts.config)
    else:
        try:
            config = VJEPA2ACConfig.from_json_file(opts.config)
        except ValueError as err:
            raise UsageError(f"--config: {err}") from None
        encoder = load(opts.encoder, checkpoint_key=opts.checkpoint_key).encoder
        encoder_config = encoder.config.replace(
            crop_size=config.encoder.crop_size, id2label=None, architectures=None
        )
        torch.manual_seed(opts.seed)
        wm = WorldModel(VJEPA2ACConfig(encoder=encoder_config, predictor=config.predictor))
        wm.reset_parameters()
        wm.encoder.load_state_dict(encoder.state_dict())
    wm.encoder.requires_grad_(False).eval()
    wm.predictor.requires_grad_(True).train()
    if not wm.config.predictor.use_extrinsics:  # kept for the layout, never used: no gradient
        wm.predictor.extrinsics_encoder.requires_grad_(False)
    return wm


def open_run(opts: TrainACOptions, episodes: list[Path], ddp: Distributed):
    """Check the run folder (refuse to clobber a run or to resume it with other options, model
    or data); returns it and the checkpoint to resume from, if any."""
    folder = RunFolder(Path(opts.out), RUN_FILES, RUN_MARKERS)
    folder.identity = {
        "options": opts.to_json(),
        "data": list_digest(str(p.resolve()) for p in episodes),
        "model": file_digest(opts.model),
        "config": file_digest(opts.config),
        "encoder": file_digest(opts.encoder),
    }
    return folder, folder.open_checkpointed(TrainACOptions, opts, ddp)


def check_dims(wm: WorldModel, episodes: list[CachedEpisode]) -> None:
    """Every episode's state and action sizes must be the predictor's."""
    c = wm.config.predictor
    for e in episodes:
        states, actions = e.episode.states.shape[-1], e.episode.actions.shape[-1]
        if states != c.state_dim or actions != c.action_dim:
            raise UsageError(
                f"{e.episode.frames_path}: {states}-D states and {actions}-D actions, but the "
                f"predictor takes {c.state_dim}-D states and {c.action_dim}-D actions"
            )


def scale_conditioning(wm: WorldModel, episodes: list[CachedEpisode], limit: float = 100.0) -> None:
    """``--cond-init data``: divide each input column of the predictor's action and state
    encoders by that input's standard deviation over ``episodes`` (actions summed over a clip's
    frame stride), at most ``limit`` times; constant inputs keep their weights. In place."""
    actions = np.concatenate([_clip_steps(e) for e in episodes])
    states = np.concatenate([e.episode.states for e in episodes])
    p = wm.predictor
    with torch.no_grad():
        for encoder, values in ((p.action_encoder, actions), (p.state_encoder, states)):
            std = torch.from_numpy(values.std(0)).to(encoder.weight)
            gain = torch.where(std > 1e-6, (1 / std.clamp_min(1e-6)).clamp_max(limit), 1.0)
            encoder.weight.mul_(gain)


def _clip_steps(e: CachedEpisode) -> np.ndarray:
    """The actions between two frames of a clip ``[n, A]``: the file's summed over the stride,
    or derived from the states."""
    if e.derive_actions or e.episode.actions is None:
        return actions_from_states(e.episode.states[:: e.stride])
    steps = e.episode.actions
    usable = len(steps) // e.stride * e.stride
    return steps[:usable].reshape(-1, e.stride, steps.shape[-1]).sum(1)


def prepare_data(
    opts: TrainACOptions,
    wm: WorldModel,
    paths: dict[str, list[Path]],
    ddp: Distributed,
    device: torch.device,
    dtype: torch.dtype,
) -> dict[str, list[CachedEpisode]]:
    """Read the episodes, encode the ones not cached yet (each process its share) and keep the
    ones long enough for a clip, per split."""
    stored = dtype if opts.cache_dtype == "auto" else parse_dtype(opts.cache_dtype)
    crop = wm.config.encoder.crop_size
    cache = Path(opts.out) / "cache" / ac_data.cache_key(wm, crop, dtype, stored)
    read = ac_data.episode_reader(Path(opts.data), opts.camera, opts.state_key, opts.action_key)
    splits = {}
    for split, split_paths in paths.items():
        splits[split] = [
            CachedEpisode(episode, cache / split / f"{episode.name}.safetensors",
                          ac_data.clip_stride(episode.fps, opts.fps),
                          opts.actions == "states" or episode.actions_derived)
            for episode in ac_data.read_episodes(split_paths, opts.actions, read)
        ]  # fmt: skip
        check_dims(wm, splits[split])
    everything = splits["train"] + splits["val"]
    wm.encoder.to(device)
    encoded = ac_data.fill_cache(wm, everything, FrameTransform(crop), device, dtype, stored,
                                 opts.encode_batch, (ddp.rank, ddp.world_size))  # fmt: skip
    wm.encoder.to("cpu")  # the encoder's work is done: free its memory on the device
    ddp.barrier()  # every shard is in the cache
    if ddp.is_main:
        log.info("frame encodings: %d episodes encoded now, %d cached in %s",
                 encoded, len(everything) - encoded, cache)  # fmt: skip
    return {split: ac_data.usable(episodes, opts.frames, split)
            for split, episodes in splits.items()}  # fmt: skip


def dataset_paths(opts: TrainACOptions) -> dict[str, list[Path]]:
    """The episodes of train/ (required, not empty) and val/ (optional); of a LeRobot dataset,
    its parquet files, the last ``--val-episodes`` the validation split."""
    root = Path(opts.data)
    ac_data.refuse_lerobot_options(root, {
        "--camera": opts.camera, "--state-key": opts.state_key, "--action-key": opts.action_key,
        "--val-episodes": opts.val_episodes,
    })  # fmt: skip
    if is_lerobot(root):
        return ac_data.lerobot_paths(root, opts.val_episodes)
    train = list_episodes(root, "train")
    if not train:
        raise UsageError(f"{root / 'train'} holds no episodes (NAME.mp4 + NAME.npz)")
    val = list_episodes(root, "val") if (root / "val").is_dir() else []
    return {"train": train, "val": val}


# -- the run ----------------------------------------------------------------------------------


@dataclass
class ACTraining:
    """What one train-ac run works with, built by :func:`setup`."""

    opts: TrainACOptions
    ddp: Distributed
    device: torch.device
    dtype: torch.dtype
    wm: WorldModel
    objective: ACObjective
    model: nn.Module  # ``objective``, wrapped in DistributedDataParallel under torchrun
    optimizer: torch.optim.Optimizer
    episodes: dict[str, list[CachedEpisode]]
    folder: RunFolder
    state: RunState = field(default_factory=RunState)
    loss: float = math.nan
    lr: float = 0.0

    @property
    def steps_per_epoch(self) -> int:
        clips = len(self.episodes["train"]) * self.opts.clips_per_episode
        return ac_data.batches_per_epoch(clips, self.opts.batch_size, self.ddp.world_size)

    @property
    def total_steps(self) -> int:
        return self.opts.epochs * self.steps_per_epoch

    def learning_rate(self, step: int) -> float:
        o, per_epoch = self.opts, self.steps_per_epoch
        warmup, decay = round(o.warmup * per_epoch), round(o.decay * per_epoch)
        return warmup_stable_decay(step, warmup, decay, self.total_steps, o.lr, o.start_lr,
                                   o.final_lr)  # fmt: skip

    def checkpoint(self) -> dict[str, Any]:
        """The predictor, the optimiser and everything an exact resume needs."""
        predictor = {k: v.detach().cpu() for k, v in self.wm.predictor.state_dict().items()}
        return {"predictor": predictor, "opt": self.optimizer.state_dict(),
                **self.state.counters(), "rng": rng_state(), "options": self.opts.to_json(),
                "config": self.wm.config.to_dict(), "world_size": self.ddp.world_size,
                "loss": self.loss, "lr": self.lr}  # fmt: skip

    def save(self) -> None:
        if self.ddp.is_main:
            save_atomic(self.checkpoint(), self.folder.path / "latest.pt")


def setup(opts: TrainACOptions) -> ACTraining:
    """Processes, run folder, world model, cached data and optimiser; restored from
    ``latest.pt`` on ``--resume``."""
    ddp, device = init_distributed(opts.device)
    dtype = parse_dtype(opts.dtype if opts.dtype != "auto" else _auto_dtype(device))
    paths = dataset_paths(opts)
    folder, checkpoint = open_run(opts, paths["train"] + paths["val"], ddp)
    wm = build_world_model(opts)
    episodes = prepare_data(opts, wm, paths, ddp, device, dtype)
    if opts.cond_init == "data" and opts.model is None:
        scale_conditioning(wm, episodes["train"])
    wm.predictor.to(device)
    objective = ACObjective(wm, opts.rollout_steps)
    optimizer = torch.optim.AdamW(
        param_groups([wm.predictor], opts.weight_decay), betas=(0.9, 0.999), eps=1e-8
    )
    run = ACTraining(opts, ddp, device, dtype, wm, objective, objective, optimizer, episodes,
                     folder, lr=opts.start_lr)  # fmt: skip
    if run.steps_per_epoch == 0:
        raise UsageError(
            f"{len(episodes['train'])} usable training episodes x {opts.clips_per_episode} "
            f"clips make no batch of {opts.batch_size} per process on {ddp.world_size} "
            "processes: lower --batch-size or raise --clips-per-episode"
        )
    if checkpoint:
        wm.predictor.load_state_dict(checkpoint["predictor"])
        optimizer.load_state_dict(checkpoint["opt"])
        run.state = RunState(checkpoint["epoch"], checkpoint["position"], checkpoint["step"])
        set_rng_state(checkpoint["rng"])
    if ddp.enabled:
        ids = [device.index] if device.type == "cuda" else None
        run.model = nn.parallel.DistributedDataParallel(objective, device_ids=ids)
    return run


def train_step(run: ACTraining, batch: Batch) -> torch.Tensor:
    """One optimiser step; returns the (teacher-forcing, rollout) losses averaged over the
    processes, ``[2]``."""
    run.lr = run.learning_rate(run.state.step)
    set_lr(run.optimizer, run.lr)
    batch = batch.to(run.device)
    with autocast(run.device, run.dtype):
        losses = run.model(batch.h, batch.actions, batch.states)
    run.optimizer.zero_grad(set_to_none=True)
    losses.sum().backward()
    if run.opts.clip_grad:
        nn.utils.clip_grad_norm_(run.wm.predictor.parameters(), run.opts.clip_grad)
    run.optimizer.step()
    run.state.step += 1
    return run.ddp.mean(losses.detach().float())


@torch.no_grad()
def validation_losses(run: ACTraining) -> torch.Tensor | None:
    """Mean (teacher-forcing, rollout) losses ``[2]`` over every non-overlapping clip of val/;
    None without validation episodes."""
    episodes, frames = run.episodes["val"], run.opts.frames
    clips = ac_data.validation_clips(episodes, frames)
    if not clips:
        return None
    total, count = torch.zeros(2, dtype=torch.float64), 0
    run.wm.predictor.eval()
    for batch in ac_data.iterate_batches(episodes, clips, frames, run.opts.batch_size,
                                         drop_last=False):  # fmt: skip
        batch = batch.to(run.device)
        with autocast(run.device, run.dtype):
            losses = run.objective(batch.h, batch.actions, batch.states)
        total += losses.double().cpu() * batch.h.size(0)
        count += batch.h.size(0)
    run.wm.predictor.train()
    return (total / count).float()


def train_ac(opts: TrainACOptions) -> dict[str, Any]:
    """Run (or resume) AC training; returns a summary (steps, last losses, model folder)."""
    run = setup(opts)
    out, state, opts = Path(opts.out), run.state, run.opts
    if run.ddp.is_main:
        run.folder.write_identity()  # set up without an error: the folder now holds this run
    monitor = ACMonitor(out, run.total_steps, opts.log_every, run.ddp.is_main, state.step)
    _log_start(run)
    shard = (run.ddp.rank, run.ddp.world_size)
    val_loss: list[float] = []

    def batches(epoch: int, start: int):
        clips = ac_data.epoch_clips(run.episodes["train"], opts.frames, opts.clips_per_episode,
                                    opts.seed, epoch)  # fmt: skip
        return ac_data.iterate_batches(run.episodes["train"], clips, opts.frames,
                                       opts.batch_size, start, shard)  # fmt: skip

    def train_batch(batch: Batch) -> bool:
        losses = train_step(run, batch)
        run.loss = float(losses.sum())
        clips = batch.h.size(0) * run.ddp.world_size
        monitor.step(state.step, state.epoch, losses.tolist(), run.lr, clips)
        return True

    def end_epoch() -> None:
        if not (run.ddp.is_main and opts.val_every and state.epoch % opts.val_every == 0):
            return
        losses = validation_losses(run)
        if losses is not None:
            val_loss[:] = losses.tolist()
            monitor.validation(state.step, state.epoch, val_loss)

    plan = LoopPlan(opts.epochs, run.steps_per_epoch, opts.checkpoint_every, opts.max_steps)
    limit = TimeLimit(opts.time_limit, run.ddp.any)
    run_epochs(state, plan, batches, train_batch, run.save, end_epoch, limit)
    if limit.reached and run.ddp.is_main:
        log.info("--time-limit %g min reached at step %d: latest.pt written, --resume continues",
                 opts.time_limit, state.step)  # fmt: skip
    monitor.close()
    if run.ddp.is_main:
        run.wm.save_pretrained(out / "model")
    run.ddp.barrier()
    return {"steps": state.step, "epoch": state.epoch, "loss": run.loss,
            "val_loss": sum(val_loss) if val_loss else None, "model": str(out / "model"),
            "rank": run.ddp.rank}  # fmt: skip


def _log_start(run: ACTraining) -> None:
    if run.ddp.is_main:
        predictor = sum(p.numel() for p in run.wm.predictor.parameters()) / 1e6
        log.info(
            "%d training / %d validation episodes; %d steps per epoch (batch %d x %d "
            "processes), %d steps in all; predictor %.2fM parameters on %s (%s)",
            len(run.episodes["train"]), len(run.episodes["val"]), run.steps_per_epoch,
            run.opts.batch_size, run.ddp.world_size, run.total_steps, predictor, run.device,
            str(run.dtype).removeprefix("torch."),
        )  # fmt: skip


def _auto_dtype(device: torch.device) -> str:
    return "bf16" if device.type == "cuda" else "fp32"
