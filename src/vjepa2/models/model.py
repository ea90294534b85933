"""User-facing models: ``VJEPA2Model`` (encoder + predictor), ``VJEPA2ForVideoClassification``
and ``VJEPA2ForActionAnticipation`` (the EK100 probe on encoder + predictor tokens).

Both take ``pixel_values_videos`` ``[B, T, C, H, W]`` (transformers' layout) and return typed
outputs with named fields, like transformers does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vjepa2.config import VJEPA2Config
from vjepa2.models.blocks import init_weights
from vjepa2.models.classifier import AttentiveClassifier, MultiTaskClassifier
from vjepa2.models.encoder import IndexList, VJEPA2Encoder
from vjepa2.models.levels import probe_tokens
from vjepa2.models.predictor import VJEPA2Predictor
from vjepa2.video.transforms import EvalTransform


@dataclass
class VJEPA2Output:
    """Outputs of :class:`VJEPA2Model`; fields not computed in a call are ``None``.

    Attributes:
        last_hidden_state: encoder output on the whole clip, ``[B, N, D]``.
        masked_hidden_state: encoder output on the context tokens only, ``[B, Nc, D]``.
        predictor_output: predicted target features, ``[B, Nt, D]``.
        level_hidden_states: with ``config.out_layers``, those blocks' outputs, each through
            the final norm, ``[B, L, N, D]`` (whole clip only).
    """

    last_hidden_state: torch.Tensor | None = None
    masked_hidden_state: torch.Tensor | None = None
    predictor_output: torch.Tensor | None = None
    level_hidden_states: torch.Tensor | None = None


@dataclass
class VideoClassifierOutput:
    """Outputs of :class:`VJEPA2ForVideoClassification`.

    Attributes:
        logits: ``[B, num_labels]``.
        pooled: the attentive pooler's output, ``[B, D]``.
        last_hidden_state: the encoder tokens the head saw, ``[B, N, D]`` (``[B, L*N, D]``,
            the levels concatenated, with ``config.out_layers``).
    """

    logits: torch.Tensor
    pooled: torch.Tensor
    last_hidden_state: torch.Tensor


class _Pretrained(nn.Module):
    """What every model class offers: its config, ``encoder``, parameter count and transform.

    Saving and embedding are not methods: :func:`vjepa2.save` and :func:`vjepa2.embed` (the
    layers above the models), so a model file imports nothing but other model files.
    """

    config: VJEPA2Config
    encoder: VJEPA2Encoder

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def transform(self) -> EvalTransform:
        """The matching evaluation transform: uint8 frames [T, H, W, 3] -> [T, 3, crop, crop]."""
        return EvalTransform(self.config.crop_size)


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
            self._encode_whole(pixel_values_videos, out)
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

    def _encode_whole(self, video: torch.Tensor, out: VJEPA2Output) -> None:
        """The last block's tokens, and with ``config.out_layers`` the levels, in one pass."""
        layers = self.config.out_layers
        if not layers:
            out.last_hidden_state = self.encoder(video)
            return
        *levels, out.last_hidden_state = self.encoder(video, out_layers=[*layers, -1])
        out.level_hidden_states = torch.stack(levels, dim=1)

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
        self.head = AttentiveClassifier.from_config(config)

    @property
    def encoder(self) -> VJEPA2Encoder:
        """The encoder under the head (``backbone.encoder``)."""
        return self.backbone.encoder

    @property
    def id2label(self) -> dict[int, str]:
        return dict(self.config.id2label or {})

    def forward_features(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        """The tokens the probe reads: ``[B, N, D]``, or ``[B, L*N, D]`` with
        ``config.out_layers`` (each level through the final norm, concatenated on tokens)."""
        return probe_tokens(self.encoder, pixel_values_videos, self.config.out_layers)

    def forward_head(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_labels]`` from :meth:`forward_features`' tokens."""
        return self.head(tokens)

    def forward(self, pixel_values_videos: torch.Tensor) -> VideoClassifierOutput:
        tokens = self.forward_features(pixel_values_videos)
        pooled = self.head.pool(tokens)
        return VideoClassifierOutput(self.head.linear(pooled), pooled, tokens)


# EK100 clips are sampled at 8 frames per second; the anticipation time counts in those frames.
ANTICIPATION_FPS = 8.0


@dataclass
class AnticipationOutput:
    """Outputs of :class:`VJEPA2ForActionAnticipation`.

    Attributes:
        logits: ``{task: [B, C_task]}`` (``verb``, ``noun``, ``action`` for EK100).
        pooled: the pooler's output, ``[B, Q, D]`` (query ``i`` for task ``i``).
        last_hidden_state: what the probe read: the clip's encoder tokens followed by the
            predictor's tokens of the anticipated frames, ``[B, N + Hp*Wp, D]``.
    """

    logits: dict[str, torch.Tensor]
    pooled: torch.Tensor
    last_hidden_state: torch.Tensor


class VJEPA2ForActionAnticipation(_Pretrained):
    """The EK100 action-anticipation probe as the original runs it (``AnticipativeWrapper``):
    the clip is encoded (N tokens), the predictor predicts the tokens of one tubelet step
    ``anticipation`` seconds after the clip's end (positions ``N + Hp*Wp*steps + [0, Hp*Wp)``,
    ``steps = int(anticipation * fps / tubelet)``), and a multi-query attentive probe reads
    [encoder tokens ; predicted tokens] with one linear head per task (verb, noun, action).
    """

    def __init__(self, config: VJEPA2Config, with_predictor: bool = True) -> None:
        super().__init__()
        if not config.classifier_tasks:
            raise ValueError("an anticipation config needs classifier_tasks (task, classes)")
        if not with_predictor:
            raise ValueError("action anticipation runs the predictor: build it with one")
        if config.out_layers:
            raise ValueError("the anticipation probe reads the last block (no out_layers)")
        self.config = config
        self.backbone = VJEPA2Model(config, with_predictor=True)
        self.head = MultiTaskClassifier(
            config.hidden_size,
            config.classifier_tasks,
            num_heads=config.pooler_num_heads,
            num_self_blocks=config.num_pooler_layers,
            eps=config.pooler_layer_norm_eps,
        )

    @property
    def encoder(self) -> VJEPA2Encoder:
        return self.backbone.encoder

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.head.tasks

    def anticipate(
        self,
        pixel_values_videos: torch.Tensor,
        anticipation: float | torch.Tensor = 1.0,
        fps: float = ANTICIPATION_FPS,
    ) -> torch.Tensor:
        """[encoder tokens ; predicted future tokens] ``[B, N + Hp*Wp, D]``.

        Args:
            pixel_values_videos: ``[B, T, C, H, W]``.
            anticipation: seconds ahead of the clip's end, one for all or ``[B]``.
            fps: the clip's sampling rate (8 for EK100).
        """
        _, hp, wp = self.encoder.token_grid(pixel_values_videos.shape)
        tokens = self.encoder(pixel_values_videos)
        b, n = tokens.shape[:2]
        seconds = torch.as_tensor(anticipation, dtype=torch.float64).expand(b)
        steps = (seconds * fps / self.config.tubelet_size).long().to(tokens.device)
        frame = torch.arange(hp * wp, device=tokens.device)
        target = n + hp * wp * steps[:, None] + frame[None]
        context = torch.arange(n, device=tokens.device).expand(b, n)
        predicted = self.backbone.predictor(tokens, context, target, grid_hw=(hp, wp))
        return torch.cat([tokens, predicted], dim=1)

    def forward(
        self,
        pixel_values_videos: torch.Tensor,
        anticipation: float | torch.Tensor = 1.0,
        fps: float = ANTICIPATION_FPS,
    ) -> AnticipationOutput:
        tokens = self.anticipate(pixel_values_videos, anticipation, fps)
        pooled = self.head.pool(tokens)
        return AnticipationOutput(self.head.logits(pooled), pooled, tokens)
