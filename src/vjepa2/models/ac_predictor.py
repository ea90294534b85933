"""The V-JEPA 2-AC action-conditioned predictor, and the encoder + predictor pair it runs with.

The predictor reads encoder tokens of T frames ``[B, T*N, D]`` together with one action and one
state per frame (and optionally camera extrinsics) and predicts, for every frame, the tokens of
the frame that follows. Per time step the sequence is laid out as
``[action_t, state_t, (extrinsics_t,) N frame tokens]`` and attention is block-causal: every token
of step t sees every token of steps <= t.

RoPE, as the released weights expect it (the tiled frequencies of ``vjepa2.models.rope``):

* frame tokens rotate [time | height | width] slices of each head with their step index and their
  patch row and column (row and column scaled by ``grid_height / rows`` and ``grid_height /
  columns``, which is 1 on a square grid);
* conditioning tokens rotate only the first (time) slice, with their step index; the rest of
  their head dims is left as it is.

Both cases fit one pair of cos/sin tables over the interleaved sequence (an angle of 0 is the
identity), so the blocks run one fused attention over all tokens.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from vjepa2.config import VJEPA2Config, read_config_json, write_config_json
from vjepa2.models.blocks import Block, init_weights
from vjepa2.models.encoder import VJEPA2Encoder, compute_dtype
from vjepa2.models.rope import RopeTables, _axis_angles, grid_positions, rope_axis_dim

AC_MODEL_TYPE = "vjepa2_ac"
AC_ARCHITECTURE = "VJEPA2ACModel"


@dataclass
class ACPredictorConfig:
    """Sizes of the action-conditioned predictor (the released one: 1024 wide, 24 deep, 16 heads).

    ``state_dim`` defaults to ``action_dim`` and ``extrinsics_dim`` to ``action_dim - 1``, as in
    the original. The extrinsics encoder always exists (the released checkpoint has it), but it
    only conditions the prediction with ``use_extrinsics``.
    """

    hidden_size: int = 1024
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    mlp_ratio: float = 4.0
    action_dim: int = 7
    state_dim: int | None = None
    extrinsics_dim: int | None = None
    use_extrinsics: bool = False
    is_frame_causal: bool = True
    layer_norm_eps: float = 1e-6
    qkv_bias: bool = True

    def __post_init__(self) -> None:
        if self.state_dim is None:
            self.state_dim = self.action_dim
        if self.extrinsics_dim is None:
            self.extrinsics_dim = self.action_dim - 1
        problems = []
        if self.hidden_size % self.num_attention_heads:
            problems.append(
                f"hidden_size {self.hidden_size} is not divisible by "
                f"num_attention_heads {self.num_attention_heads}"
            )
        for name in ("action_dim", "state_dim"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.use_extrinsics and self.extrinsics_dim < 1:
            problems.append("use_extrinsics needs extrinsics_dim >= 1")
        if problems:
            raise ValueError("invalid AC predictor config: " + "; ".join(problems))

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def num_cond_tokens(self) -> int:
        """Conditioning tokens per step: action, state (and extrinsics)."""
        return 3 if self.use_extrinsics else 2

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ACPredictorConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown AC predictor config keys: {', '.join(unknown)}")
        return cls(**data)


@dataclass
class VJEPA2ACConfig:
    """A world model's architecture: the (frozen) encoder and the AC predictor.

    The predictor's token grid is the encoder's at ``encoder.crop_size`` (``grid_size`` per side),
    and it maps to and from the encoder's width. Serialised as ``config.json`` with
    ``model_type`` ``"vjepa2_ac"``::

        {"model_type": "vjepa2_ac", "architectures": ["VJEPA2ACModel"],
         "encoder": {... a V-JEPA 2 config ...}, "predictor": {... ACPredictorConfig ...}}
    """

    encoder: VJEPA2Config = field(default_factory=VJEPA2Config)
    predictor: ACPredictorConfig = field(default_factory=ACPredictorConfig)

    @property
    def grid_size(self) -> int:
        return self.encoder.grid_size

    @property
    def tokens_per_frame(self) -> int:
        """Encoder tokens of one frame (encoded as a tubelet of copies of itself)."""
        return self.grid_size**2

    def to_dict(self) -> dict[str, Any]:
        encoder = self.encoder.replace(id2label=None).to_dict()
        encoder.pop("architectures")  # the encoder alone is no transformers model here
        return {
            "model_type": AC_MODEL_TYPE,
            "architectures": [AC_ARCHITECTURE],
            "encoder": encoder,
            "predictor": self.predictor.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VJEPA2ACConfig:
        model_type = data.get("model_type")
        if model_type != AC_MODEL_TYPE:
            raise ValueError(f"config model_type is {model_type!r}, expected {AC_MODEL_TYPE!r}")
        missing = [k for k in ("encoder", "predictor") if not isinstance(data.get(k), dict)]
        if missing:
            raise ValueError(f"a {AC_MODEL_TYPE} config needs the sections {missing}")
        return cls(
            encoder=VJEPA2Config.from_dict(data["encoder"]),
            predictor=ACPredictorConfig.from_dict(data["predictor"]),
        )

    @classmethod
    def from_json_file(cls, path: str | Path) -> VJEPA2ACConfig:
        return cls.from_dict(read_config_json(path))

    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` into ``directory`` and return its path."""
        return write_config_json(self.to_dict(), directory)


def block_causal_mask(steps: int, tokens_per_step: int, device: torch.device) -> torch.Tensor:
    """``[L, L]`` bool, L = steps * tokens_per_step: True where the query's step >= the key's."""
    step = torch.arange(steps * tokens_per_step, device=device) // tokens_per_step
    return step[:, None] >= step[None, :]


def ac_rope_tables(
    steps: int,
    num_cond: int,
    grid_hw: tuple[int, int],
    head_dim: int,
    dtype: torch.dtype,
    device: torch.device,
) -> RopeTables:
    """RoPE tables ``[1, 1, steps*(num_cond + Hp*Wp), head_dim]`` for the interleaved layout.

    Frame tokens: time, row and column angles on the three ``a``-dim slices (row and column
    scaled by ``Hp / Hp`` and ``Hp / Wp``, as the original snaps them to its grid); conditioning
    tokens: the time angle on the first slice only. Dims without an angle get angle 0 (identity).
    """
    hp, wp = grid_hw
    a = rope_axis_dim(head_dim)
    idx = torch.arange(steps * hp * wp, device=device)
    t, h, w = (p.float() for p in grid_positions(idx, grid_hw))
    frame = torch.cat(
        [_axis_angles(p, a, dtype) for p in (t, h * (hp / hp), w * (hp / wp))], dim=-1
    )
    frame = F.pad(frame, (0, head_dim - 3 * a)).view(steps, hp * wp, head_dim)
    cond = _axis_angles(torch.arange(steps, device=device).float(), a, dtype)
    cond = F.pad(cond, (0, head_dim - a))[:, None].expand(steps, num_cond, head_dim)
    angles = torch.cat([cond, frame], dim=1).flatten(0, 1)  # [L, head_dim]
    sign = torch.ones(head_dim, dtype=dtype, device=device)
    sign[0::2] = -1  # the pair rotation (x0, x1) -> (-x1, x0), folded into sin
    return RopeTables(angles.cos()[None, None], (angles.sin() * sign)[None, None])


class ACPredictor(nn.Module):
    """The action-conditioned predictor (``vit_ac_predictor`` of the original).

    State-dict names are the original's: ``predictor_embed``, ``action_encoder``,
    ``state_encoder``, ``extrinsics_encoder``, ``predictor_blocks.{i}``, ``predictor_norm``,
    ``predictor_proj``.
    """

    def __init__(self, config: ACPredictorConfig, embed_dim: int, grid_size: int) -> None:
        super().__init__()
        self.config = config
        self.grid_hw = (grid_size, grid_size)
        dim = config.hidden_size
        self.predictor_embed = nn.Linear(embed_dim, dim)
        self.action_encoder = nn.Linear(config.action_dim, dim)
        self.state_encoder = nn.Linear(config.state_dim, dim)
        self.extrinsics_encoder = nn.Linear(config.extrinsics_dim, dim)
        self.predictor_blocks = nn.ModuleList(
            Block(dim, config.num_attention_heads, config.mlp_ratio, config.qkv_bias,
                  config.layer_norm_eps)
            for _ in range(config.num_hidden_layers)
        )  # fmt: skip
        self.predictor_norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.predictor_proj = nn.Linear(dim, embed_dim)
        self.gradient_checkpointing = False

    @property
    def tokens_per_frame(self) -> int:
        return self.grid_hw[0] * self.grid_hw[1]

    def _cond_tokens(
        self,
        steps: int,
        actions: torch.Tensor,
        states: torch.Tensor,
        extrinsics: torch.Tensor | None,
        batch: int,
    ) -> torch.Tensor:
        """Embedded conditioning tokens ``[B, T, num_cond, hidden]``; checks the shapes."""
        c = self.config
        inputs = [("actions", actions, self.action_encoder, c.action_dim),
                  ("states", states, self.state_encoder, c.state_dim)]  # fmt: skip
        if c.use_extrinsics:
            if extrinsics is None:
                raise ValueError("this predictor uses extrinsics: pass extrinsics [B, T, E]")
            inputs.append(("extrinsics", extrinsics, self.extrinsics_encoder, c.extrinsics_dim))
        tokens = []
        for name, value, encoder, dim in inputs:
            if value.shape != (batch, steps, dim):
                raise ValueError(
                    f"{name} must be [B, T, {dim}] = [{batch}, {steps}, {dim}] for {steps} "
                    f"frames, got {list(value.shape)}"
                )
            tokens.append(encoder(value.to(encoder.weight.dtype)))
        return torch.stack(tokens, dim=2)

    def forward(
        self,
        x: torch.Tensor,
        actions: torch.Tensor,
        states: torch.Tensor,
        extrinsics: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict the next frame's tokens for every frame.

        Args:
            x: encoder tokens of T frames ``[B, T*N, D]`` (N = tokens per frame).
            actions: ``[B, T, action_dim]``; action t leads from frame t to frame t+1.
            states: ``[B, T, state_dim]`` (the pose at frame t).
            extrinsics: ``[B, T, extrinsics_dim]``, only with ``use_extrinsics``.

        Returns:
            ``[B, T*N, D]``: at frame t the prediction of frame t+1 (no final layer norm).
        """
        if x.dim() != 3:
            raise ValueError(f"expected tokens [B, T*N, D], got shape {list(x.shape)}")
        b, n, _ = x.shape
        per_frame = self.tokens_per_frame
        if n % per_frame or n == 0:
            raise ValueError(f"{n} tokens is not a whole number of {per_frame}-token frames")
        steps = n // per_frame
        cond = self._cond_tokens(steps, actions, states, extrinsics, b)
        frames = self.predictor_embed(x.to(self.predictor_embed.weight.dtype))
        frames = frames.view(b, steps, per_frame, -1)
        x = torch.cat([cond.to(frames.dtype), frames], dim=2).flatten(1, 2)
        num_cond = cond.size(2)
        rope = ac_rope_tables(
            steps, num_cond, self.grid_hw, self.config.head_dim, compute_dtype(x), x.device
        )
        mask = None
        if self.config.is_frame_causal:
            mask = block_causal_mask(steps, num_cond + per_frame, x.device)
        for block in self.predictor_blocks:
            if self.gradient_checkpointing and torch.is_grad_enabled():
                x = torch.utils.checkpoint.checkpoint(block, x, rope, mask, use_reentrant=False)
            else:
                x = block(x, rope, mask)
        x = x.view(b, steps, num_cond + per_frame, -1)[:, :, num_cond:].flatten(1, 2)
        return self.predictor_proj(self.predictor_norm(x))


class VJEPA2ACModel(nn.Module):
    """V-JEPA 2-AC: a video encoder and the action-conditioned predictor on its tokens.

    State-dict names: ``encoder.*`` and ``predictor.*`` (each network's original names).
    """

    def __init__(self, config: VJEPA2ACConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = VJEPA2Encoder(config.encoder)
        self.predictor = ACPredictor(
            config.predictor, config.encoder.hidden_size, config.encoder.grid_size
        )

    def reset_parameters(self) -> None:
        """The original training init, each network scaled on its own block count."""
        init_weights(self.encoder, self.config.encoder.initializer_range)
        init_weights(self.predictor, self.config.encoder.initializer_range)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
