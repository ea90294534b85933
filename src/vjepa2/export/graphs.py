"""What is exported: one module per part with one input and one output, its example and check
inputs, and which dimensions are dynamic.

- ``encoder``: ``pixel_values_videos`` ``[B, T, C, H, W]`` -> ``last_hidden_state`` ``[B, N, D]``;
- ``classifier``: ``pixel_values_videos`` -> ``logits`` ``[B, num_labels]``.

The batch is dynamic; so is the clip length T, in whole tubelets: the RoPE tables are built from
the input's own token grid at every call (`vjepa2.models.rope`), so no table limits it. Height and
width stay at the checkpoint's crop size, the size the model was trained at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn
from torch.export import Dim

from vjepa2.config import VJEPA2Config
from vjepa2.errors import UsageError
from vjepa2.models.model import VJEPA2ForVideoClassification

INPUT_NAME = "pixel_values_videos"
PARTS = ("encoder", "classifier")
FORMATS = ("pt2", "onnx")


class EncoderGraph(nn.Module):
    """``pixel_values_videos`` ``[B, T, C, H, W]`` -> ``last_hidden_state`` ``[B, N, D]``."""

    output_name = "last_hidden_state"

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.config = model.config
        self.encoder = model.encoder

    def forward(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        return self.encoder(pixel_values_videos)


class ClassifierGraph(nn.Module):
    """``pixel_values_videos`` ``[B, T, C, H, W]`` -> ``logits`` ``[B, num_labels]``."""

    output_name = "logits"

    def __init__(self, model: VJEPA2ForVideoClassification) -> None:
        super().__init__()
        self.config = model.config
        self.model = model

    def forward(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values_videos).logits


def default_parts(model: nn.Module) -> tuple[str, ...]:
    """The model's own output: the classifier of a classifier, else the encoder."""
    return ("classifier",) if isinstance(model, VJEPA2ForVideoClassification) else ("encoder",)


def part_graph(model: nn.Module, part: str) -> nn.Module:
    """The module exported for ``part`` of ``model`` (in eval mode)."""
    if part == "classifier":
        if not isinstance(model, VJEPA2ForVideoClassification):
            raise UsageError("--part classifier: this model has no classifier head")
        return ClassifierGraph(model).eval()
    if part == "encoder":
        return EncoderGraph(model).eval()
    raise UsageError(f"--part {part!r}: choose from {', '.join(PARTS)}")


def dynamic_shapes(config: VJEPA2Config, dynamic_frames: bool) -> dict[str, dict[int, object]]:
    """torch.export's ``dynamic_shapes``: the batch, and the frames as a multiple of the
    tubelet size when ``dynamic_frames``."""
    dims: dict[int, object] = {0: Dim("batch", min=1)}
    if dynamic_frames:
        tubelets = Dim("tubelets", min=1)
        dims[1] = tubelets if config.tubelet_size == 1 else config.tubelet_size * tubelets
    return {INPUT_NAME: dims}


def clip_input(config: VJEPA2Config, batch: int, frames: int, seed: int = 0) -> torch.Tensor:
    """Normalised-pixel-like noise ``[batch, frames, C, crop, crop]`` (float32, seeded)."""
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, frames, config.in_chans, config.crop_size, config.crop_size)
    return torch.randn(shape, generator=generator)


def check_input(config: VJEPA2Config, example: torch.Tensor, dynamic_frames: bool) -> torch.Tensor:
    """The parity check's input: a batch of 1 (the traced example has 2 or more) and, with
    dynamic frames, one tubelet more than the example, so the check runs the exported graph at
    sizes it was not traced at."""
    frames = example.size(1) + (config.tubelet_size if dynamic_frames else 0)
    return clip_input(config, 1, frames, seed=1)


def rename_symbols(text: str, names: Mapping[str, str]) -> str:
    """``16*s58`` -> ``16*tubelets``: the tracer's symbols in a size replaced by ``names``."""
    if not names:
        return text
    symbol = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    return symbol.sub(lambda m: names[m[1]], text)
