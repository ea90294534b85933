"""The loop every trainer shares: epochs of batches from where the run stands, checkpoints at
fixed step intervals and at epoch ends. What a batch does is the trainer's (``train_batch``).

A trainer (probe, pretrain, and the next one, e.g. the action-conditioned predictor) is built
from the same pieces:

1. an options dataclass whose fields are ``vjepa2.train.options.option(...)`` (help text, range,
   what ``--resume`` may change); ``vjepa2.cli.options.options_command`` derives its CLI verb;
2. ``runtime.init_distributed`` for the device and the torchrun process group;
3. a ``run_folder.RunFolder`` with the names the run writes: ``open`` refuses to clobber a run
   (or deletes it with ``--overwrite``), ``check_identity`` refuses a resume with other
   options, model or data, ``write_identity`` records the run once it is set up;
4. a ``state.RunState`` saved with the modules, the optimiser and ``state.rng_state()`` by
   ``state.save_atomic``, restored with ``state.set_rng_state`` on resume;
5. :func:`run_epochs` with the trainer's ``batches`` (a function of epoch and start, so a resume
   sees the same batches), ``train_batch``, ``save`` and ``end_epoch`` (validation, monitors).
"""

from __future__ import annotations

import time
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
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """For each epoch from ``state.epoch``, for each batch from ``state.position``: train it.

    ``batches(epoch, start)`` yields the batches of ``epoch`` from the ``start``-th on (the same
    ones whether the run was interrupted or not); ``train_batch(batch)`` returns True when it made
    an optimiser step (and advanced ``state.step``). At an epoch's end the state moves to the next
    epoch, ``end_epoch()`` runs (validation, monitors) and ``save()`` writes a checkpoint; where
    ``max_steps`` stops the run inside an epoch, ``save()`` writes one there. ``should_stop()``,
    asked after every batch (e.g. a time limit; under torchrun every rank must give the same
    answer), stops the run the same way.
    """
    last_step = plan.max_steps if plan.max_steps is not None else float("inf")
    stopped = False
    while state.epoch < plan.epochs and state.step < last_step and not stopped:
        for batch in batches(state.epoch, state.position):
            state.position += 1
            stepped = train_batch(batch)
            if stepped and plan.checkpoint_every and state.step % plan.checkpoint_every == 0:
                save()
            stopped = should_stop()
            if state.step >= last_step or stopped:
                break
        if state.position < plan.batches_per_epoch:  # stopped by max_steps or should_stop
            save()
            return
        state.epoch, state.position = state.epoch + 1, 0
        end_epoch()
        save()


class TimeLimit:
    """A ``should_stop`` for `run_epochs`: true once ``minutes`` have passed since it was made
    (never with ``None``). ``agree`` turns this process's answer into every process's (e.g.
    `vjepa2.runtime.Distributed.any`), so torchrun ranks stop at the same batch. ``reached``
    says whether it stopped the run."""

    def __init__(
        self, minutes: float | None, agree: Callable[[bool], bool] = lambda flag: flag
    ) -> None:
        self.deadline = None if minutes is None else time.monotonic() + 60 * minutes
        self.agree = agree
        self.reached = False

    def __call__(self) -> bool:
        if self.deadline is None:
            return False
        self.reached = self.agree(time.monotonic() >= self.deadline)
        return self.reached
