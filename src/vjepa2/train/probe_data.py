"""Where probe training gets its features: a feature cache (encode once), or the video files
decoded, augmented and encoded every epoch (needed for augmentation and partial fine-tuning).

Both yield ``tokens [B, V, S*N, D]`` and ``labels [B]`` for a list of example positions, in a
deterministic order given (seed, epoch), so a resumed run sees the same batches.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vjepa2.data.manifest import Example
from vjepa2.data.video_clips import ClipSpec
from vjepa2.models.encoder import VJEPA2Encoder
from vjepa2.runtime import autocast
from vjepa2.train.features import FeatureCache, concat_segments
from vjepa2.video import VideoDecodeError, probe, read_video
from vjepa2.video.sampling import sample_clips
from vjepa2.video.transforms import TrainTransform, preprocess


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
    """Clips of one example for training: deterministic segment positions, augmentation drawn
    from a generator seeded by (seed, epoch, index)."""

    def __init__(
        self,
        examples: Sequence[Example],
        spec: ClipSpec,
        transform: TrainTransform | None,
        seed: int,
    ) -> None:
        self.examples, self.spec, self.transform, self.seed = examples, spec, transform, seed

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        example = self.examples[index]
        try:
            info = probe(example.path)
            step = self.spec.frame_step
            indices = sample_clips(info.num_frames, self.spec.frames, step,
                                   num_segments=self.spec.segments)  # fmt: skip
            frames, _ = read_video(example.path, indices=indices.reshape(-1), num_threads=1)
        except (VideoDecodeError, OSError, IndexError):
            return None
        clips = frames.view(*indices.shape, *frames.shape[1:])
        if self.transform is None:
            pixels = torch.stack([preprocess(c, self.spec.crop_size) for c in clips])
        else:
            seed = np.random.SeedSequence([self.seed, epoch, index]).generate_state(1)[0]
            generator = torch.Generator().manual_seed(int(seed))
            pixels = torch.stack([self.transform(c, generator) for c in clips])
        return pixels, example.label  # [S, T, 3, crop, crop]


def _collate(items):
    items = [item for item in items if item is not None]
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
    ) -> None:
        self.dataset = _TrainClips(examples, spec.with_(views=1), transform, seed)
        self.encoder, self.workers, self.dtype = encoder, workers, dtype

    def __len__(self) -> int:
        return len(self.dataset)

    def batches(
        self, order: np.ndarray, batch_size: int, start: int, epoch: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        keys = [(epoch, int(i)) for i in order]
        batches = [
            keys[i : i + batch_size] for i in range(start * batch_size, len(keys), batch_size)
        ]
        loader = DataLoader(self.dataset, batch_sampler=batches, num_workers=self.workers,
                            collate_fn=_collate, worker_init_fn=_one_thread)  # fmt: skip
        device = next(self.encoder.parameters()).device
        trainable = any(p.requires_grad for p in self.encoder.parameters())
        for batch in loader:
            if batch is None:
                continue
            pixels, labels = batch  # [B, S, T, 3, H, W]
            b, s = pixels.shape[:2]
            with torch.set_grad_enabled(trainable), autocast(device, self.dtype):
                tokens = self.encoder(pixels.flatten(0, 1).to(device))  # [B*S, N, D]
            tokens = torch.stack(
                [concat_segments(t, s, 1) for t in tokens.float().view(b, s, *tokens.shape[1:])]
            )
            yield tokens, labels


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
