"""V-JEPA 2.1 (Meta, 2026): the user-facing model, with the calls of a V-JEPA 2 model.

``model(pixel_values_videos)`` returns ``.last_hidden_state`` ``[B, N, D]``; ``context_idx`` /
``target_idx`` run the masked encoder and the predictor. 2.1 adds: ``hierarchical=True`` (the
encoder's normed levels concatenated, ``[B, N, L*D]``), the predictions at the context tokens
(``.predictor_context_output``), and images (``[B, 1, C, H, W]`` or ``[B, C, H, W]``: the image
patch embedding and modality). The pieces live in ``v21_config`` (config and presets),
``v21_rope``, ``v21_encoder`` and ``v21_predictor``; see docs/vjepa2_1.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vjepa2.models.blocks import init_weights
from vjepa2.models.classifier import AttentiveClassifier
from vjepa2.models.encoder import IndexList
from vjepa2.models.model import VideoClassifierOutput
from vjepa2.models.v21_config import (
    HIERARCHICAL_LAYERS,
    MODEL_TYPE,
    PRESETS_21,
    V21Preset,
    VJEPA21Config,
    preset_for_file,
)
from vjepa2.models.v21_encoder import VJEPA21Encoder, as_video, modality_of
from vjepa2.models.v21_predictor import PredictorOutput, VJEPA21Predictor

__all__ = [
    "HIERARCHICAL_LAYERS",
    "MODEL_TYPE",
    "PRESETS_21",
    "V21_PRETRAIN_MISSING",
    "PredictorOutput",
    "V21Preset",
    "VJEPA21Config",
    "VJEPA21Encoder",
    "VJEPA21ForVideoClassification",
    "VJEPA21Model",
    "VJEPA21Output",
    "VJEPA21PreTrained",
    "VJEPA21Predictor",
    "preset_for_file",
]


V21_PRETRAIN_MISSING = (
    "pretraining a V-JEPA 2.1 model is not supported: the 2.1 loss (how the hierarchical "
    "targets and the context-token predictions are weighted and normalised) is not in the "
    "known facts; see docs/vjepa2_1.md"
)
"""Why ``vjepa2 pretrain`` refuses a 2.1 checkpoint (one line)."""


@dataclass
class VJEPA21Output:
    """Outputs of :class:`VJEPA21Model`; fields not computed in a call are ``None``.

    Attributes:
        last_hidden_state: encoder output (the last level) on the whole input, ``[B, N, D]``.
        masked_hidden_state: encoder output on the context tokens only, ``[B, Nc, D]``.
        hierarchical_hidden_state: with ``hierarchical=True``, every level of the encoder
            output above (whole input or context tokens), concatenated: ``[B, N or Nc, L*D]``.
        predictor_output: predictions at the target tokens, ``[B, Nt, Lp*out]``.
        predictor_context_output: predictions at the context tokens, ``[B, Nc, Lp*out]``.
    """

    last_hidden_state: torch.Tensor | None = None
    masked_hidden_state: torch.Tensor | None = None
    hierarchical_hidden_state: torch.Tensor | None = None
    predictor_output: torch.Tensor | None = None
    predictor_context_output: torch.Tensor | None = None


class VJEPA21PreTrained(nn.Module):
    """What every V-JEPA 2.1 model is (the model and its classifier): the class
    ``vjepa2.save`` tells the family's format by."""

    config: VJEPA21Config


class VJEPA21Model(VJEPA21PreTrained):
    """The V-JEPA 2.1 encoder and (optionally) its predictor."""

    def __init__(self, config: VJEPA21Config, with_predictor: bool = True) -> None:
        super().__init__()
        self.config = config
        self.encoder = VJEPA21Encoder(config)
        self.predictor = VJEPA21Predictor(config) if with_predictor else None

    def reset_parameters(self) -> None:
        """The training init: truncated normal weights, ``attn.proj`` / ``mlp.fc2`` scaled per
        block, modality embeddings N(0, 1e-6²), zero mask tokens."""
        for net in (self.encoder, self.predictor):
            if net is None:
                continue
            init_weights(net, self.config.initializer_range)
            with torch.no_grad():
                net.img_mod_embed.normal_(0.0, 1e-6)
                net.video_mod_embed.normal_(0.0, 1e-6)
        if self.predictor is not None:
            for token in self.predictor.mask_tokens:
                nn.init.zeros_(token)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self,
        pixel_values_videos: torch.Tensor,
        context_idx: IndexList | None = None,
        target_idx: IndexList | None = None,
        mask_index: int = 1,
        hierarchical: bool = False,
    ) -> VJEPA21Output:
        """Encode a clip or an image, and predict target tokens when ``target_idx`` is given.

        Args:
            pixel_values_videos: ``[B, T, C, H, W]`` normalised pixels; T = 1 (or a plain image
                ``[B, C, H, W]``) takes the image path, and the predictor the image modality.
            context_idx: kept token indices ``[B, Nc]`` (a list of them is stacked along the
                batch); only these go through the encoder, as in pretraining.
            target_idx: token indices to predict ``[B, Nt]``; without ``context_idx`` the whole
                input is the context.
            mask_index: predictor mask token (the reference's default 1; 0 is the first).
            hierarchical: also return every encoder level (``hierarchical_hidden_state``).

        The predictor reads the encoder's last ``pred_num_levels`` levels of the context tokens
        (all four for g/G; the plain output for the distilled B/L).
        """
        out = VJEPA21Output()
        video = as_video(pixel_values_videos)
        levels = self._encode(video, context_idx, hierarchical or target_idx is not None)
        if hierarchical:
            out.hierarchical_hidden_state = torch.cat(levels, dim=-1)
        if context_idx is None:
            out.last_hidden_state = levels[-1]
        else:
            out.masked_hidden_state = levels[-1]
        if target_idx is None:
            return out
        if self.predictor is None:
            raise RuntimeError("this model was loaded without a predictor")
        if context_idx is None:
            b, n = levels[-1].shape[:2]
            context_idx = torch.arange(n, device=video.device).expand(b, n)
        context = torch.cat(levels[-self.config.pred_num_levels :], dim=-1)
        pred = self.predictor(context, context_idx, target_idx, mask_index, modality_of(video))
        out.predictor_output, out.predictor_context_output = pred
        return out

    def _encode(
        self, video: torch.Tensor, masks: IndexList | None, all_levels: bool
    ) -> list[torch.Tensor]:
        if all_levels:
            return self.encoder.forward_levels(video, masks)
        return self.encoder.forward_levels(video, masks, [-1])

    def get_vision_features(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        """Encoder tokens ``[B, N, D]`` (the last level), as transformers names it."""
        return self.encoder(pixel_values_videos)


class VJEPA21ForVideoClassification(VJEPA21PreTrained):
    """A V-JEPA 2.1 backbone with an attentive-probe classifier head over the encoder's last
    level (``[B, N, D]``, what ``last_hidden_state`` gives), as V-JEPA 2's classifier.

    The config is a :class:`VJEPA21Config` with ``id2label``; the head's heads and LayerNorm
    eps are ``config.pooler_num_heads`` / ``config.pooler_layer_norm_eps``. Images
    (``[B, 1, C, H, W]`` or ``[B, C, H, W]``) go through the image path.
    """

    def __init__(self, config: VJEPA21Config, with_predictor: bool = True) -> None:
        super().__init__()
        if not config.is_classifier:
            raise ValueError("a classifier config needs id2label (the class names)")
        self.config = config
        self.backbone = VJEPA21Model(config, with_predictor=with_predictor)
        self.head = AttentiveClassifier.from_config(config)

    @property
    def encoder(self) -> VJEPA21Encoder:
        """The encoder under the head (``backbone.encoder``)."""
        return self.backbone.encoder

    @property
    def predictor(self) -> VJEPA21Predictor | None:
        return self.backbone.predictor

    @property
    def id2label(self) -> dict[int, str]:
        return dict(self.config.id2label or {})

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, pixel_values_videos: torch.Tensor) -> VideoClassifierOutput:
        """Logits ``[B, num_labels]`` (with the pooled features and the encoder tokens)."""
        tokens = self.encoder(pixel_values_videos)
        pooled = self.head.pool(tokens)
        return VideoClassifierOutput(self.head.linear(pooled), pooled, tokens)
