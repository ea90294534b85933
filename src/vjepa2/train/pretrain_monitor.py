"""What a pretraining run reports: TensorBoard scalars, a ``metrics.jsonl`` line per step and a
progress bar, plus collapse monitors and an optional periodic frozen probe.

Collapse means the target encoder maps every clip to (nearly) the same features, which makes the
loss trivially small. Two numbers show it, both falling towards 0 together:

- ``collapse/target_std``: the per-dimension standard deviation of the layer-normed target
  tokens over the batch and the tokens, averaged over dimensions (≈1 for healthy features);
- ``collapse/effective_rank``: exp of the entropy of the normalised singular values of the
  clip-level (mean-pooled) target features of the last few batches (RankMe; between 1 and the
  number of clips).
"""

from __future__ import annotations

import collections
import json
import logging
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from vjepa2.config import VJEPA2Config
from vjepa2.data import read_labelled, split_examples
from vjepa2.files import write_text_atomic
from vjepa2.train.frozen_fits import encode_videos, fit_logistic, head_accuracy
from vjepa2.train.pretrain_options import PretrainOptions
from vjepa2.train.run_folder import summary_writer, truncate_jsonl

log = logging.getLogger("vjepa2.pretrain")

POOLED_BATCHES = 8  # batches of pooled features behind the effective rank


def effective_rank(features: torch.Tensor) -> float:
    """exp(entropy of the normalised singular values) of ``features`` ``[N, D]`` (RankMe, not
    centred): about how many directions the features use; near 1 when every clip maps to the
    same vector, at most min(N, D)."""
    singular = torch.linalg.svdvals(features.float())
    p = singular / singular.sum().clamp_min(1e-12)
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
    return float(torch.exp(entropy))


def feature_std(tokens: torch.Tensor) -> float:
    """Per-dimension std over every token of ``[B, N, D]``, averaged over the D dimensions."""
    return float(tokens.float().reshape(-1, tokens.size(-1)).std(0).mean())


class Monitor:
    """Rank 0's reporting; on other ranks every method does nothing."""

    def __init__(
        self,
        out: Path,
        config: VJEPA2Config,
        opts: PretrainOptions,
        total_steps: int,
        enabled: bool = True,
        resumed_step: int = 0,
    ) -> None:
        self.enabled = enabled
        self.log_every = max(1, opts.log_every)
        self.opts = opts
        self.pooled: collections.deque[torch.Tensor] = collections.deque(maxlen=POOLED_BATCHES)
        self._probe_set = None
        if not enabled:
            return
        out.mkdir(parents=True, exist_ok=True)
        config.save(out)
        write_text_atomic(out / "options.json", json.dumps(opts.to_json(), indent=2) + "\n")
        self.metrics_path = out / "metrics.jsonl"
        truncate_jsonl(self.metrics_path, resumed_step)
        self.metrics = self.metrics_path.open("a")
        self.writer = summary_writer(out / "tb", resumed_step + 1 if resumed_step else None)
        self.bar = tqdm(total=total_steps, initial=resumed_step, unit="step", dynamic_ncols=True)
        self.last_time = time.perf_counter()
        self.window_clips = 0

    def step(
        self,
        *,
        step: int,
        epoch: int,
        losses: list[float],
        lr: float,
        momentum: float,
        grad_norm: float | None,
        clips: int,
        targets: torch.Tensor,
        skipped: int,
        clipped: bool | None = None,
    ) -> None:
        """Record one optimiser step (``losses``: one per mask configuration; ``clipped``:
        whether gradient clipping bound, None when it is off)."""
        if not self.enabled:
            return
        self.pooled.append(targets.detach().float().mean(1).cpu())
        loss = sum(losses) / len(losses)
        record: dict[str, Any] = {"step": step, "epoch": epoch, "loss": loss, "lr": lr}
        record.update({f"loss_mask{i}": v for i, v in enumerate(losses)})
        record.update(ema=momentum, grad_norm=grad_norm, skipped=skipped)
        if clipped is not None:
            record["clipped"] = int(clipped)  # 1: clipping bound at this step
        self.window_clips += clips
        if step % self.log_every == 0:
            now = time.perf_counter()
            record["clips_per_s"] = self.window_clips / max(now - self.last_time, 1e-9)
            record["target_std"] = feature_std(targets)
            record["effective_rank"] = effective_rank(torch.cat(list(self.pooled)))
            self.last_time, self.window_clips = now, 0
            self.bar.set_postfix(
                loss=f"{loss:.4f}", clips_s=f"{record['clips_per_s']:.1f}",
                std=f"{record['target_std']:.3f}", rank=f"{record['effective_rank']:.1f}",
            )  # fmt: skip
        self.metrics.write(json.dumps(record) + "\n")
        self.metrics.flush()
        self._scalars(record, step)
        self.bar.update(1)

    def _scalars(self, record: dict[str, Any], step: int) -> None:
        names = {
            "loss": "loss/total", "lr": "opt/lr", "ema": "opt/ema_momentum",
            "grad_norm": "opt/grad_norm", "clipped": "opt/clipped",
            "clips_per_s": "speed/clips_per_s",
            "target_std": "collapse/target_std", "effective_rank": "collapse/effective_rank",
            "probe_accuracy": "probe/accuracy",
        }  # fmt: skip
        for key, value in record.items():
            if value is None or key in ("step", "epoch", "skipped"):
                continue
            tag = names.get(key, f"loss/{key.removeprefix('loss_')}")
            self.writer.add_scalar(tag, value, step)

    def evaluate(
        self,
        encoder: torch.nn.Module,
        labelled: str,
        device: torch.device,
        dtype: torch.dtype,
        step: int,
    ) -> float | None:
        """Fit a logistic regression on the encoder's mean-pooled features of half of the
        ``labelled`` set and log its accuracy on the other half."""
        if not self.enabled:
            return None
        train, val = self._probe_split(labelled)
        opts = self.opts
        encode = dict(frames=opts.frames, target_fps=opts.fps, crop_size=opts.crop_size,
                      device=device, dtype=dtype)  # fmt: skip
        x_train = encode_videos(encoder, [e.path for e in train.examples], **encode).mean(1)
        x_val = encode_videos(encoder, [e.path for e in val.examples], **encode).mean(1)
        y_train = torch.tensor([e.label for e in train.examples])
        y_val = torch.tensor([e.label for e in val.examples])
        head = fit_logistic(x_train, y_train, len(train.id2label))
        value = head_accuracy(head, x_val, y_val)
        record = {"step": step, "probe_accuracy": value}
        self.metrics.write(json.dumps(record) + "\n")
        self.metrics.flush()
        self._scalars(record, step)
        log.info("step %d: frozen probe accuracy %.3f", step, value)
        return value

    def _probe_split(self, labelled: str):
        if self._probe_set is None:
            train, val, _ = split_examples(read_labelled(labelled), (0.5, 0.5, 0.0), seed=0)
            self._probe_set = (train, val)
        return self._probe_set

    def close(self) -> None:
        if not self.enabled:
            return
        self.bar.close()
        self.metrics.close()
        self.writer.close()
