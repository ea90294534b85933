"""The loop every trainer shares: epochs of batches from where the run stands, checkpoints at
fixed step intervals and at epoch ends. What a batch does is the trainer's (``train_batch``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from vjepa2.train.state import RunState


@dataclass(frozen=True)
class LoopPlan:
    """How long a run is: ``epochs`` of ``batches_per_epoch`` batches, stopped early after
    ``max_steps`` optimiser steps if given; a checkpoint every ``checkpoint_every`` steps
    (0: at epoch ends only)."""

    epochs: int
    batches_per_epoch: int
    checkpoint_every: int = 0
    max_steps: int | None = None


def run_epochs(
    state: RunState,
    plan: LoopPlan,
    batches: Callable[[int, int], Iterable[Any]],
    train_batch: Callable[[Any], bool],
    save: Callable[[], None],
    end_epoch: Callable[[], None] = lambda: None,
) -> None:
    """For each epoch from ``state.epoch``, for each batch from ``state.position``: train it.

    ``batches(epoch, start)`` yields the batches of ``epoch`` from the ``start``-th on (the same
    ones whether the run was interrupted or not); ``train_batch(batch)`` returns True when it made
    an optimiser step (and advanced ``state.step``). At an epoch's end the state moves to the next
    epoch, ``end_epoch()`` runs (validation, monitors) and ``save()`` writes a checkpoint; where
    ``max_steps`` stops the run inside an epoch, ``save()`` writes one there.
    """
    last_step = plan.max_steps if plan.max_steps is not None else float("inf")
    while state.epoch < plan.epochs and state.step < last_step:
        for batch in batches(state.epoch, state.position):
            state.position += 1
            stepped = train_batch(batch)
            if stepped and plan.checkpoint_every and state.step % plan.checkpoint_every == 0:
                save()
            if state.step >= last_step:
                break
        if state.position < plan.batches_per_epoch:  # stopped by max_steps
            save()
            return
        state.epoch, state.position = state.epoch + 1, 0
        end_epoch()
        save()
