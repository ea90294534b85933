"""``train-probe`` across processes (``torchrun``): data parallel over the feature cache.

- Every rank encodes its shard of each cache's rows into the one cache folder, then reads all
  of it (`build_cache`).
- Each batch of the single-process run (same order, same size) is split between the ranks
  (`ShardedBatches`). A rank's loss is weighted by ``W * b / B`` (``b`` of the batch's ``B``
  examples on this rank, ``W`` ranks) and the gradients are averaged over the ranks
  (`reduce_gradients`), which gives the gradient of the whole batch's mean loss: the same
  steps as one process, up to the order of floating-point sums. A rank left without an example
  (a last batch smaller than ``W``) runs one with weight 0.
- Every rank evaluates (the probes are small) and restores the same checkpoint on resume; rank
  0 alone writes the run folder (`on_main`).

The probes are few small modules trained together, so the gradients are all-reduced in one flat
buffer instead of wrapping each in ``DistributedDataParallel``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from vjepa2.data.clip_pipeline import ClipSpec
from vjepa2.data.manifest import Example
from vjepa2.errors import UsageError
from vjepa2.models.encoder import VJEPA2Encoder
from vjepa2.runtime import Distributed
from vjepa2.train.features import FeatureCache
from vjepa2.train.probe_data import CachedFeatures, OnlineFeatures

T = TypeVar("T")


def process_group() -> Distributed:
    """Where this process sits in the initialised process group (rank 0 of 1 without one)."""
    if not (dist.is_available() and dist.is_initialized()):
        return Distributed()
    local = int(os.environ.get("LOCAL_RANK", 0))
    return Distributed(dist.get_rank(), dist.get_world_size(), local)


def build_cache(
    directory: Path, encoder: VJEPA2Encoder, examples: Sequence[Example], spec: ClipSpec,
    *, progress: bool, **options: Any,
) -> FeatureCache:  # fmt: skip
    """`FeatureCache.build` with this rank's shard of the rows; the cache once every rank's rows
    are in. ``options``: the other arguments of `FeatureCache.build`."""
    group = process_group()
    if not group.enabled:
        return FeatureCache.build(directory, encoder, examples, spec, progress=progress, **options)
    FeatureCache.build(directory, encoder, examples, spec, progress=progress and group.is_main,
                       shard=(group.rank, group.world_size), sync=group.barrier,
                       **options)  # fmt: skip
    group.barrier()
    return FeatureCache(directory)


class ShardedBatches:
    """This rank's part of each training batch of a :class:`CachedFeatures` (see the module
    docstring); ``weight``: the loss weight of the last batch yielded."""

    def __init__(self, source: CachedFeatures, group: Distributed) -> None:
        self.source, self.group, self.weight = source, group, 1.0

    def __len__(self) -> int:
        return len(self.source)

    def batches(
        self, order: np.ndarray, batch_size: int, start: int, epoch: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """tokens ``[b, V, S*N, D]`` and labels ``[b]`` of this rank's share of each batch."""
        rank, world = self.group.rank, self.group.world_size
        for first in range(start * batch_size, len(order), batch_size):
            batch = order[first : first + batch_size]
            mine = batch[rank::world]
            self.weight = world * len(mine) / len(batch)
            yield self.source.cache.batch(self.source.rows[mine if len(mine) else batch[:1]])


def training_source(
    source: CachedFeatures | OnlineFeatures,
) -> CachedFeatures | OnlineFeatures | ShardedBatches:
    """The training batches of this process: ``source`` alone, its share under torchrun."""
    group = process_group()
    if not group.enabled:
        return source
    if not isinstance(source, CachedFeatures):
        raise UsageError("train-probe under torchrun trains from the feature cache: drop "
                         "--no-cache / --unfreeze / --lora-rank, or run one process")  # fmt: skip
    return ShardedBatches(source, group)


def local_loss(source: Any, loss: torch.Tensor) -> torch.Tensor:
    """The loss this rank back-propagates: ``loss`` weighted by its share of the batch."""
    return loss * source.weight if isinstance(source, ShardedBatches) else loss


def batch_loss(source: Any, loss: torch.Tensor) -> float:
    """The whole batch's mean loss from this rank's mean ``loss`` (itself alone)."""
    if not isinstance(source, ShardedBatches):
        return loss.item()
    return source.group.mean(loss.detach().double().reshape(1) * source.weight).item()


def reduce_gradients(source: Any, modules: Iterable[nn.Module]) -> None:
    """Average the gradients of ``modules``' trainable parameters over the ranks (nothing
    alone), in one flat buffer."""
    if not isinstance(source, ShardedBatches):
        return
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = source.group.mean(torch.cat([g.reshape(-1) for g in grads]))
    for param, value in zip(params, flat.split([g.numel() for g in grads]), strict=True):
        param.grad = value.view_as(param).clone()


def on_main(compute: Callable[[], T]) -> T:
    """``compute()`` on rank 0, its result sent to every rank (``compute()`` itself alone)."""
    group = process_group()
    if not group.enabled:
        return compute()
    result = [compute() if group.is_main else None]
    dist.broadcast_object_list(result, src=0)
    return result[0]
