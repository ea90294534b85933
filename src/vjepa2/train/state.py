"""Exact resumption: where a run stands, atomic checkpoint files and the random-number-generator
states."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vjepa2.files import atomic_write


@dataclass
class RunState:
    """Where a training run stands; every trainer checkpoints and resumes from these counters.

    ``epoch`` counts finished epochs, ``position`` the batches done in the next one and ``step``
    the optimiser steps done (several batches per step with gradient accumulation).
    """

    epoch: int = 0
    position: int = 0
    step: int = 0

    def counters(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position, "step": self.step}


def save_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``,
    so a kill at any moment leaves either the old file or the new one, never a torn one."""
    path = Path(path)
    with atomic_write(path) as tmp:
        torch.save(obj, tmp)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_atomic` (``weights_only=True``)."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


def rng_state() -> dict[str, Any]:
    """Every RNG a training loop draws from (Python, NumPy, torch CPU and CUDA), as tensors and
    plain values so the checkpoint loads with ``weights_only=True``."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                  "has_gauss": has_gauss, "cached": cached},
        "torch": torch.get_rng_state(),
    }  # fmt: skip
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
