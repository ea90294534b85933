"""User-facing models: ``VJEPA2Model`` (encoder + predictor) and ``VJEPA2ForVideoClassification``.

Both take ``pixel_values_videos`` ``[B, T, C, H, W]`` (transformers' layout) and return typed
outputs with named fields, like transformers does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from vjepa2.config import VJEPA2Config
from vjepa2.models.blocks import init_weights
from vjepa2.models.classifier import AttentiveClassifier
from vjepa2.models.encoder import IndexList, VJEPA2Encoder
from vjepa2.models.predictor import VJEPA2Predictor


@dataclass
class VJEPA2Output:
    """Outputs of :class:`VJEPA2Model`; fields not computed in a call are ``None``.

    Attributes:
        last_hidden_state: encoder output on the whole clip, ``[B, N, D]``.
        masked_hidden_state: encoder output on the context tokens only, ``[B, Nc, D]``.
        predictor_output: predicted target features, ``[B, Nt, D]``.
    """

    last_hidden_state: torch.Tensor | None = None
    masked_hidden_state: torch.Tensor | None = None
    predictor_output: torch.Tensor | None = None


@dataclass
class VideoClassifierOutput:
    """Outputs of :class:`VJEPA2ForVideoClassification`.

    Attributes:
        logits: ``[B, num_labels]``.
        pooled: the attentive pooler's output, ``[B, D]``.
        last_hidden_state: the encoder tokens the head saw, ``[B, N, D]``.
    """

    logits: torch.Tensor
    pooled: torch.Tensor
    last_hidden_state: torch.Tensor


class _Pretrained(nn.Module):
    config: VJEPA2Config

    def save_pretrained(self, directory: str | Path, max_shard_size: str = "5GB") -> Path:
        """Write config.json + safetensors in the Hugging Face format (transformers loads it)."""
        from vjepa2.weights.hf import save_pretrained

        return save_pretrained(self, directory, max_shard_size=max_shard_size)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def transform(self):
        """The matching evaluation transform: uint8 frames [T, H, W, 3] -> [T, 3, crop, crop]."""
        from vjepa2.video.transforms import EvalTransform

        return EvalTransform(self.config.crop_size)

    def embed(
        self,
        video,
        *,
        frames: int | None = None,
        frame_step: int | None = None,
        fps: float | None = None,
        segments: int | None = None,
        views: int | None = None,
        stride: int | None = None,
        batch_size: int = 8,
    ):
        """Embed a video file, or uint8 frames ``[T, H, W, 3]`` taken as one clip.

        Sampling defaults to the checkpoint's (``frames_per_clip`` frames from the start, every
        2nd for 64-frame models). Returns an :class:`~vjepa2.inference.Embedding`: ``tokens``
        ``[T', H', W', D]`` and ``pooled`` ``[D]`` (leading ``[S, V]`` dims when several
        segments/windows or views are asked for).
        """
        from vjepa2.data.clip_pipeline import ClipSpec
        from vjepa2.inference.embed import embed_video

        spec = ClipSpec.for_model(
            self.config, frames=frames, frame_step=frame_step, fps=fps, segments=segments,
            views=views, stride=stride,
        )  # fmt: skip
        return embed_video(video=video, model=self, spec=spec, batch_size=batch_size)


class VJEPA2Model(_Pretrained):
    """The V-JEPA 2 encoder and (optionally) its masked-latent predictor."""

    def __init__(self, config: VJEPA2Config, with_predictor: bool = True) -> None:
        super().__init__()
        self.config = config
        self.encoder = VJEPA2Encoder(config)
        self.predictor = VJEPA2Predictor(config) if with_predictor else None

    def reset_parameters(self) -> None:
        """The original training init (each network scaled on its own block count)."""
        init_weights(self.encoder, self.config.initializer_range)
        if self.predictor is not None:
            init_weights(self.predictor, self.config.initializer_range)
            for token in self.predictor.mask_tokens:
                if self.config.pred_zero_init_mask_tokens:
                    nn.init.zeros_(token)
                else:
                    nn.init.trunc_normal_(token, std=self.config.initializer_range)

    def forward(
        self,
        pixel_values_videos: torch.Tensor,
        context_idx: IndexList | None = None,
        target_idx: IndexList | None = None,
        mask_index: int = 1,
    ) -> VJEPA2Output:
        """Encode a clip, and predict target tokens when ``target_idx`` is given.

        Args:
            pixel_values_videos: ``[B, T, C, H, W]`` normalised pixels.
            context_idx: kept token indices ``[B, Nc]`` (a list of them is stacked along the
                batch). Only these tokens go through the encoder, as in pretraining.
            target_idx: token indices to predict ``[B, Nt]``; without ``context_idx`` the
                whole clip is the context.
            mask_index: predictor mask token (1 at evaluation, as transformers; 0 in pretraining).
        """
        out = VJEPA2Output()
        _, hp, wp = self.encoder.token_grid(pixel_values_videos.shape)
        if context_idx is None:
            out.last_hidden_state = self.encoder(pixel_values_videos)
            context = out.last_hidden_state
            if target_idx is not None:
                n = context.size(1)
                context_idx = torch.arange(n, device=context.device).expand(context.size(0), n)
        else:
            out.masked_hidden_state = self.encoder(pixel_values_videos, masks=context_idx)
            context = out.masked_hidden_state
        if target_idx is not None:
            if self.predictor is None:
                raise RuntimeError("this model was loaded without a predictor")
            out.predictor_output = self.predictor(
                context, context_idx, target_idx, mask_index=mask_index, grid_hw=(hp, wp)
            )
        return out

    def get_vision_features(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        """Encoder tokens ``[B, N, D]`` for a clip ``[B, T, C, H, W]`` (transformers' name)."""
        return self.encoder(pixel_values_videos)


class VJEPA2ForVideoClassification(_Pretrained):
    """A V-JEPA 2 backbone with an attentive-probe classifier head."""

    def __init__(self, config: VJEPA2Config, with_predictor: bool = True) -> None:
        super().__init__()
        if not config.is_classifier:
            raise ValueError("a classifier config needs id2label (the class names)")
        self.config = config
        self.backbone = VJEPA2Model(config, with_predictor=with_predictor)
        self.head = AttentiveClassifier(
            config.hidden_size,
            config.num_labels,
            num_heads=config.pooler_num_heads,
            num_self_blocks=config.num_pooler_layers,
            num_queries=config.classifier_num_queries,
            eps=config.pooler_layer_norm_eps,
        )

    @property
    def id2label(self) -> dict[int, str]:
        return dict(self.config.id2label or {})

    def forward_features(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        """Encoder tokens ``[B, N, D]``."""
        return self.backbone.encoder(pixel_values_videos)

    def forward_head(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_labels]`` from encoder tokens ``[B, N, D]``."""
        return self.head(tokens)

    def forward(self, pixel_values_videos: torch.Tensor) -> VideoClassifierOutput:
        tokens = self.forward_features(pixel_values_videos)
        pooled = self.head.pool(tokens)
        return VideoClassifierOutput(self.head.linear(pooled), pooled, tokens)


def build_model(
    config: VJEPA2Config, with_predictor: bool = True
) -> VJEPA2Model | VJEPA2ForVideoClassification:
    """The model class the config describes (a classifier when it has labels)."""
    if config.is_classifier:
        return VJEPA2ForVideoClassification(config, with_predictor=with_predictor)
    return VJEPA2Model(config, with_predictor=with_predictor)
