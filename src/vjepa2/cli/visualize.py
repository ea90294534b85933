"""``vjepa2 visualize``: pictures of what a model sees (``pca``: the feature video)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli import common
from vjepa2.cli.app import app
from vjepa2.data.clip_pipeline import ClipSpec
from vjepa2.errors import UsageError
from vjepa2.inference.attention import attention_video
from vjepa2.inference.pca import pca_video
from vjepa2.video.writer import encode_image, encode_video

visualize_app = typer.Typer(
    help="Pictures of what a model sees: PCA feature videos, probe attention maps.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(visualize_app, name="visualize")

# The options both pictures take.
Video = Annotated[Path, typer.Argument(help="The video to picture.")]
Out = Annotated[Path, typer.Option("--out", "-o", help="Output video (.mp4).")]
Png = Annotated[Path | None, typer.Option(help="Also write one frame (the middle one) as a PNG.")]
MaxClips = Annotated[
    int, typer.Option(help="Consecutive clips pictured from the start of the video.", min=1)
]
OutputFps = Annotated[float, typer.Option(help="Frame rate of the output video.", min=0.1)]


@visualize_app.command(no_args_is_help=True)
def pca(
    video: Video,
    model: common.Model = ...,
    out: Out = ...,
    png: Png = None,
    frames: common.Frames = None,
    frame_step: common.FrameStep = None,
    max_clips: MaxClips = 32,
    fps: OutputFps = 8.0,
    device: common.Device = "auto",
    checkpoint_key: common.CheckpointKey = "encoder",
) -> None:
    """Write the first 3 PCA components of the patch tokens as an RGB video beside the input.

    Cuts the video into consecutive clips of the model's length, encodes them, fits one PCA
    over all their tokens, scales each component to 0..255 and paints every tubelet of every
    frame with its token's colour (upsampled bilinearly), to the right of the frames the model
    saw (centre crop at the model's size). Parts of a scene the model sees alike get alike
    colours.

    **Examples**

    ```
    vjepa2 visualize pca clip.mp4 -m demo -o pca.mp4
    vjepa2 visualize pca walk.mp4 -m vitl -o walk-pca.mp4 --png walk-pca.png --max-clips 4
    ```
    """
    net, spec = _prepare(video, model, device, checkpoint_key, frames, frame_step, max_clips, fps)
    pictures = pca_video(video, net, spec, max_clips=max_clips)
    _write(pictures, out, png, fps)


def _prepare(video, model, device, checkpoint_key, frames, frame_step, max_clips, fps):
    """Check the options, load the model (in eval mode) and its clip spec."""
    if not video.is_file():
        raise UsageError(f"no such video: {video}")
    if max_clips < 1 or fps <= 0:
        raise UsageError(f"need --max-clips >= 1 and --fps > 0, got {max_clips} and {fps}")
    net, _ = common.load_model(model, device, checkpoint_key)
    try:
        spec = ClipSpec.for_model(net.config, frames=frames, frame_step=frame_step)
    except ValueError as err:
        raise UsageError(str(err)) from err
    return net.eval(), spec


def _write(pictures, out: Path, png: Path | None, fps: float) -> None:
    encode_video(out, pictures, fps=fps)
    if png is not None:
        encode_image(png, pictures[len(pictures) // 2])
    typer.echo(f"{len(pictures)} frames of {pictures.shape[2]}x{pictures.shape[1]}: {out}")


@visualize_app.command(no_args_is_help=True)
def attention(
    video: Video,
    model: common.Model = ...,
    out: Out = ...,
    png: Png = None,
    frames: common.Frames = None,
    frame_step: common.FrameStep = None,
    max_clips: MaxClips = 32,
    fps: OutputFps = 8.0,
    device: common.Device = "auto",
    checkpoint_key: common.CheckpointKey = "encoder",
) -> None:
    """Write where a classifier's attentive probe looks, as a heat map beside the input.

    Cuts the video into consecutive clips of the model's length, runs the encoder and the
    probe's pooler, and paints the cross-attention weights of the probe's query over the
    tokens (heads averaged, scaled to each clip's largest weight: dark blue, red, yellow) over
    the frames the model saw. Prints the predicted label of each clip.

    **Examples**

    ```
    vjepa2 visualize attention clip.mp4 -m demo -o attention.mp4
    vjepa2 visualize attention cook.mp4 -m vitl-ssv2 -o cook-attn.mp4 --png cook-attn.png
    ```
    """
    net, spec = _prepare(video, model, device, checkpoint_key, frames, frame_step, max_clips, fps)
    pictures, labels = attention_video(video, net, spec, max_clips=max_clips)
    typer.echo("predicted per clip: " + ", ".join(labels))
    _write(pictures, out, png, fps)
