"""What a train-ac run reports: a ``metrics.jsonl`` line per step and per validation, TensorBoard
scalars (both losses, their sum, the learning rate, clips per second, the validation losses) and
a progress bar. Rank 0 reports; on other ranks every method does nothing."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vjepa2.train.run_folder import summary_writer, truncate_jsonl

log = logging.getLogger("vjepa2.train_ac")

TAGS = {
    "loss": "loss/total", "loss_tf": "loss/teacher_forcing", "loss_rollout": "loss/rollout",
    "lr": "opt/lr", "clips_per_s": "speed/clips_per_s", "val_loss": "val/total",
    "val_tf": "val/teacher_forcing", "val_rollout": "val/rollout",
}  # fmt: skip


class ACMonitor:
    """Writes ``out/metrics.jsonl`` and ``out/tb/``; a resumed run drops what came after its
    checkpoint (``resumed_step``)."""

    def __init__(
        self, out: Path, total_steps: int, log_every: int, enabled: bool, resumed_step: int = 0
    ) -> None:
        self.enabled = enabled
        self.log_every = log_every
        if not enabled:
            return
        out.mkdir(parents=True, exist_ok=True)
        path = out / "metrics.jsonl"
        truncate_jsonl(path, resumed_step)
        self.metrics = path.open("a")
        self.writer = summary_writer(out / "tb", resumed_step + 1 if resumed_step else None)
        self.bar = tqdm(total=total_steps, initial=resumed_step, unit="step", dynamic_ncols=True)
        self.window_clips, self.window_start = 0, time.perf_counter()

    def step(self, step: int, epoch: int, losses: list[float], lr: float, clips: int) -> None:
        """Record optimiser step ``step``: ``losses`` = (teacher forcing, rollout)."""
        if not self.enabled:
            return
        tf, rollout = losses
        record: dict[str, Any] = {"step": step, "epoch": epoch, "loss": tf + rollout,
                                  "loss_tf": tf, "loss_rollout": rollout, "lr": lr}  # fmt: skip
        self.window_clips += clips
        if step % self.log_every == 0:
            now = time.perf_counter()
            record["clips_per_s"] = self.window_clips / max(now - self.window_start, 1e-9)
            self.window_clips, self.window_start = 0, now
        self._write(record)
        self.bar.set_postfix(loss=f"{tf + rollout:.4f}", tf=f"{tf:.4f}", ar=f"{rollout:.4f}")
        self.bar.update(1)

    def validation(self, step: int, epoch: int, losses: list[float]) -> None:
        """Record the validation losses (teacher forcing, rollout) after ``epoch`` epochs."""
        if not self.enabled:
            return
        tf, rollout = losses
        self._write({"step": step, "epoch": epoch, "val_loss": tf + rollout, "val_tf": tf,
                     "val_rollout": rollout})  # fmt: skip
        log.info("epoch %d: validation loss %.4f (teacher forcing %.4f, rollout %.4f)",
                 epoch, tf + rollout, tf, rollout)  # fmt: skip

    def _write(self, record: dict[str, Any]) -> None:
        self.metrics.write(json.dumps(record) + "\n")
        self.metrics.flush()
        for key, value in record.items():
            if key in TAGS:
                self.writer.add_scalar(TAGS[key], value, record["step"])

    def close(self) -> None:
        if self.enabled:
            self.bar.close()
            self.metrics.close()
            self.writer.close()
