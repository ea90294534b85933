"""Where probe training gets its features: a feature cache (encode once), or the video files
decoded, augmented and encoded every epoch (needed for augmentation and partial fine-tuning).

Both yield ``tokens [B, V, S*N, D]`` and ``labels [B]`` for a list of example positions, in a
deterministic order given (seed, epoch), so a resumed run sees the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vjepa2.data.clip_pipeline import ClipSpec, read_clips
from vjepa2.data.loader import UnreadableVideo, make_loader, seeded_generator
from vjepa2.data.manifest import Example
from vjepa2.models.encoder import VJEPA2Encoder
from vjepa2.models.levels import probe_tokens
from vjepa2.runtime import autocast
from vjepa2.train.features import FeatureCache, concat_segments
from vjepa2.video import VideoDecodeError
from vjepa2.video.transforms import TrainTransform


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of ``n`` examples in ``epoch`` (a function of seed and epoch only)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


class CachedFeatures:
    """Training batches read from a :class:`FeatureCache` (failed videos left out)."""

    def __init__(self, cache: FeatureCache) -> None:
        self.cache = cache
        self.rows = cache.valid_rows

    def __len__(self) -> int:
        return len(self.rows)

    def batches(
        self, order: np.ndarray, batch_size: int, start: int, epoch: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for first in range(start * batch_size, len(order), batch_size):
            yield self.cache.batch(self.rows[order[first : first + batch_size]])


class _TrainClips(Dataset):
    """Clips of one example for training through the clip pipeline: deterministic segment
    positions; with ``spec.augment``, augmentation drawn from a generator seeded by
    (seed, epoch, index). An unreadable file gives an `UnreadableVideo`."""

    def __init__(self, examples: Sequence[Example], spec: ClipSpec, seed: int) -> None:
        self.examples, self.spec, self.seed = examples, spec, seed

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        example = self.examples[index]
        generator = seeded_generator(self.seed, epoch, index)
        try:
            clips = read_clips(example.path, self.spec, generator=generator, decoder_threads=1)
        except VideoDecodeError as err:
            return UnreadableVideo(str(example.path), str(err))
        return clips.pixels[:, 0], example.label  # [S, T, 3, crop, crop]


def _collate(items):
    items = [item for item in items if not isinstance(item, UnreadableVideo)]
    if not items:
        return None
    return torch.stack([p for p, _ in items]), torch.tensor([label for _, label in items])


class OnlineFeatures:
    """Training batches decoded, augmented and encoded on the fly (``--no-cache``)."""

    def __init__(
        self,
        examples: Sequence[Example],
        spec: ClipSpec,
        encoder: VJEPA2Encoder,
        transform: TrainTransform | None,
        seed: int,
        workers: int,
        dtype: torch.dtype,
        levels: Sequence[int] | None = None,
    ) -> None:
        self.dataset = _TrainClips(examples, spec.with_(views=1, augment=transform), seed)
        self.encoder, self.workers, self.dtype = encoder, workers, dtype
        self.levels = levels  # blocks a multi-level probe reads (None: the last)

    def __len__(self) -> int:
        return len(self.dataset)

    def batches(
        self, order: np.ndarray, batch_size: int, start: int, epoch: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        keys = [(epoch, int(i)) for i in order]
        batches = [
            keys[i : i + batch_size] for i in range(start * batch_size, len(keys), batch_size)
        ]
        loader = make_loader(self.dataset, batches, workers=self.workers, batched=True,
                             collate_fn=_collate)  # fmt: skip
        device = next(self.encoder.parameters()).device
        trainable = any(p.requires_grad for p in self.encoder.parameters())
        for batch in loader:
            if batch is None:
                continue
            pixels, labels = batch  # [B, S, T, 3, H, W]
            b, s = pixels.shape[:2]
            with torch.set_grad_enabled(trainable), autocast(device, self.dtype):
                tokens = probe_tokens(self.encoder, pixels.flatten(0, 1).to(device), self.levels)
            tokens = torch.stack(
                [concat_segments(t, s, 1) for t in tokens.float().view(b, s, *tokens.shape[1:])]
            )
            yield tokens, labels
