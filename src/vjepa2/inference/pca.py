"""PCA feature pictures: the first three principal components of the patch tokens as RGB.

The encoder's tokens of every clip of a video are pooled into one matrix; its first three
principal components (eigenvectors of the tokens' ``[D, D]`` scatter matrix: exact and cheap
for any number of tokens; each signed so its largest loading is positive) are min-max scaled
to [0, 1] per component, and each token's three values colour its tubelet (tubelet frames x
patch pixels, upsampled bilinearly to the crop size), beside the input frames the model saw.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vjepa2.data.clip_pipeline import ClipSpec, read_clips
from vjepa2.video.transforms import IMAGENET_MEAN, IMAGENET_STD

COMPONENTS = 3


def pca_colours(tokens: torch.Tensor) -> torch.Tensor:
    """Tokens ``[N, D]`` -> their first three principal components, each min-max scaled to
    [0, 1], ``[N, 3]`` (zeros for components a tiny input lacks or that are constant)."""
    x = tokens.double()
    x = x - x.mean(dim=0, keepdim=True)
    q = min(COMPONENTS, *x.shape)
    _, vectors = torch.linalg.eigh(x.T @ x)  # ascending eigenvalues of the [D, D] scatter
    basis = vectors[:, -q:].flip(1)
    signs = torch.sign(basis.gather(0, basis.abs().argmax(0, keepdim=True)))
    projected = (x @ (basis * signs)).float()
    low, high = projected.amin(dim=0), projected.amax(dim=0)
    scaled = (projected - low) / (high - low).clamp_min(1e-12)
    return F.pad(scaled, (0, COMPONENTS - q))


def colour_grid(colours: torch.Tensor, tubelet: int, size: tuple[int, int]) -> torch.Tensor:
    """Per-token colours ``[S, T', Hp, Wp, 3]`` -> uint8 frames ``[S*T'*tubelet, H, W, 3]``."""
    s, steps, hp, wp, _ = colours.shape
    planes = colours.permute(0, 1, 4, 2, 3).reshape(s * steps, COMPONENTS, hp, wp)
    planes = F.interpolate(planes, size=size, mode="bilinear", align_corners=False)
    planes = planes.repeat_interleave(tubelet, dim=0).clamp(0, 1)
    return (planes.permute(0, 2, 3, 1) * 255).round().to(torch.uint8)


def unnormalise(pixels: torch.Tensor) -> torch.Tensor:
    """Model input ``[N, 3, H, W]`` (ImageNet-normalised) -> uint8 frames ``[N, H, W, 3]``."""
    mean, std = IMAGENET_MEAN[:, None, None], IMAGENET_STD[:, None, None]
    frames = (pixels.float().cpu() * std + mean) * 255
    return frames.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1)


@torch.no_grad()
def pca_frames(pixels: torch.Tensor, encoder: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips ``[S, T, 3, H, W]`` -> (input frames, PCA frames), each uint8 ``[S*T, H, W, 3]``,
    with one PCA over the tokens of all the clips."""
    grid = encoder.token_grid(pixels.shape)
    device = next(encoder.parameters()).device
    tokens = encoder(pixels.to(device)).float().cpu()  # [S, N, D]
    colours = pca_colours(tokens.reshape(-1, tokens.size(-1)))
    colours = colours.view(pixels.size(0), *grid, COMPONENTS)
    tubelet = max(1, pixels.size(1) // grid[0])
    pictures = colour_grid(colours, tubelet, tuple(pixels.shape[-2:]))
    return unnormalise(pixels.flatten(0, 1)), pictures


def pca_video(
    path: str | os.PathLike, model: nn.Module, spec: ClipSpec, max_clips: int = 32
) -> np.ndarray:
    """The input frames and their PCA picture side by side, uint8 ``[N, H, 2W, 3]``: the video
    cut into consecutive clips of ``spec.frames`` frames (at most ``max_clips`` of them, from
    the start), one PCA over all their tokens."""
    spec = spec.with_(stride=spec.frames * spec.frame_step, segments=1, views=1)
    clips = read_clips(path, spec, select=slice(0, max_clips))
    frames, pictures = pca_frames(clips.pixels[:, 0], model.encoder)
    return torch.cat([frames, pictures], dim=2).numpy()
