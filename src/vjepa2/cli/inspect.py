"""``vjepa2 models``, ``vjepa2 info``, ``vjepa2 doctor``: what is available, what a file is."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from typing import Annotated, Any

import av
import torch
import typer
from huggingface_hub import constants
from rich.console import Console
from rich.table import Table

from vjepa2.cli.app import app
from vjepa2.config import CONFIG_NAME, VJEPA2Config
from vjepa2.errors import VJEPA2Error
from vjepa2.presets import DEMO_DIR, DEMO_NAME, PRESETS, Preset, count_parameters
from vjepa2.runtime import pick_device
from vjepa2.video import BACKENDS
from vjepa2.weights.describe import describe

console = Console()


@app.command()
def models(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the model presets and the bundled demo: name, Hub id, size, frames per clip and
    crop size.

    Any name here works wherever a model is asked for, e.g. `vjepa2 classify clip.mp4
    --model vitl-ssv2`; weights download once into the Hugging Face cache
    (`HF_HUB_OFFLINE=1` uses the cache only). `demo` is bundled with the package and needs
    no download.

    **Examples**

    ```
    vjepa2 models
    vjepa2 models --json
    vjepa2 classify clip.mp4 --model vitl-ssv2
    ```
    """
    rows = [_preset_row(preset) for preset in PRESETS.values()]
    if (DEMO_DIR / CONFIG_NAME).is_file():
        rows.append(_demo_row())
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    table = Table(title="V-JEPA 2 presets (params: encoder + classifier head)")
    for column in ("name", "task", "params", "frames", "crop"):
        table.add_column(column, no_wrap=True)
    table.add_column("Hub id", overflow="fold")
    for r in rows:
        table.add_row(
            r["name"], r["task"], f"{r['params_m']:.1f}M", str(r["frames_per_clip"]),
            str(r["crop_size"]), r["hub_id"] or f"(no mirror) {r['original_file']}",
        )  # fmt: skip
    console.print(table)


def _preset_row(preset: Preset) -> dict[str, Any]:
    return {
        "name": preset.name,
        "hub_id": preset.hub_id,
        "task": f"{preset.task} ({preset.num_labels})" if preset.task else "encoder",
        "params_m": round(count_parameters(preset.config()) / 1e6, 1),
        "frames_per_clip": preset.frames_per_clip,
        "crop_size": preset.crop_size,
        "original_file": preset.original_file,
    }


def _demo_row() -> dict[str, Any]:
    config = VJEPA2Config.from_json_file(DEMO_DIR / CONFIG_NAME)
    return {
        "name": DEMO_NAME,
        "hub_id": "(bundled, no download)",
        "task": f"motion demo ({config.num_labels})",
        "params_m": round(count_parameters(config) / 1e6, 1),
        "frames_per_clip": config.frames_per_clip,
        "crop_size": config.crop_size,
        "original_file": None,
    }


@app.command(no_args_is_help=True)
def info(
    checkpoint: Annotated[
        str, typer.Argument(help="HF directory, Hub id, preset or original .pt.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Describe a checkpoint: its format, architecture and parameter count (no model is built).

    **Examples**

    ```
    vjepa2 info vitl
    vjepa2 info ./my-probe-run/model
    vjepa2 info vitl.pt --json
    ```
    """
    try:
        data = describe(checkpoint)
    except VJEPA2Error as err:
        raise typer.BadParameter(str(err), param_hint="CHECKPOINT") from err
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    config = data.get("config")
    table = Table(show_header=False, title=checkpoint)
    table.add_row("format", data["format"])
    for key in ("family", "path", "hub_id", "epoch", "step", "tensors"):
        if key in data:
            table.add_row(key, str(data[key]))
    if "parameters" in data:
        table.add_row("parameters", f"{data['parameters'] / 1e6:.2f}M")
    for name, part in data.get("parts", {}).items():
        if isinstance(part, dict):
            table.add_row(
                name, f"{part['tensors']} tensors, {part['parameters'] / 1e6:.2f}M params"
            )
        else:
            table.add_row(name, f"{len(part)} probe head(s)")
    if isinstance(config, dict) and isinstance(config.get("encoder"), dict):  # world model
        table.add_row("encoder", _arch_line(config["encoder"]))
        p = config["predictor"]
        table.add_row("AC predictor", f"width {p['hidden_size']}, depth "
                      f"{p['num_hidden_layers']}, heads {p['num_attention_heads']}, "
                      f"action dim {p['action_dim']}")  # fmt: skip
    elif isinstance(config, dict):
        table.add_row("architecture", _arch_line(config))
        if config.get("num_labels"):
            names = list(config["id2label"].values())
            more = " ..." if len(names) > 8 else ""
            table.add_row("labels", f"{len(names)}: " + ", ".join(names[:8]) + more)
    elif config:
        table.add_row("architecture", str(config))
    console.print(table)


def _arch_line(c: dict) -> str:
    return (
        f"width {c['hidden_size']}, depth {c['num_hidden_layers']}, "
        f"heads {c['num_attention_heads']}, "
        f"mlp {c['mlp_ratio']:.3g}, patch {c['patch_size']}, tubelet {c['tubelet_size']}, "
        f"crop {c['crop_size']}, {c['frames_per_clip']} frames per clip"
    )


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@app.command()
def doctor() -> None:
    """Check the installation: versions, devices and dtypes, video decoders, Hub cache.

    **Examples**

    ```
    vjepa2 doctor
    CUDA_VISIBLE_DEVICES=1 vjepa2 doctor
    HF_HUB_OFFLINE=1 vjepa2 doctor
    ```
    """
    table = Table(title="vjepa2 doctor", show_header=False)
    table.add_row("python", platform.python_version())
    packages = ("vjepa2", "torch", "numpy", "av", "safetensors", "huggingface_hub", "typer",
                "tqdm", "tensorboard", "transformers", "torchcodec", "decord")  # fmt: skip
    for package in packages:
        table.add_row(package, _version(package))
    table.add_row("ffmpeg (in av)", ", ".join(f"{k} {'.'.join(map(str, v))}"
                  for k, v in sorted(av.library_versions.items())[:3]))  # fmt: skip
    table.add_row("cpu threads", str(torch.get_num_threads()))
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            name = torch.cuda.get_device_name(i)
            bf16 = torch.cuda.is_bf16_supported()
            table.add_row(f"cuda:{i}", f"{name} (bf16 {'yes' if bf16 else 'no'}, fp16 yes)")
    else:
        table.add_row("cuda", "not available")
    table.add_row("mps", "available" if torch.backends.mps.is_available() else "not available")
    table.add_row("cpu dtypes", "fp32, " + ("bf16" if _cpu_bf16_works() else "bf16 unsupported"))
    decoders = [b for b in BACKENDS if b == "pyav" or _version(b) != "not installed"]
    table.add_row("video decoders", ", ".join(decoders))
    offline = "on" if constants.HF_HUB_OFFLINE else "off"
    table.add_row("hub cache", f"{constants.HF_HUB_CACHE} (offline mode {offline})")
    table.add_row("device picked", str(pick_device("auto")))
    console.print(table)
    if os.environ.get("CUDA_VISIBLE_DEVICES") == "":
        console.print("note: CUDA_VISIBLE_DEVICES is empty, GPUs are hidden")


def _cpu_bf16_works() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.ones(2, 2) @ torch.ones(2, 2)
        return True
    except RuntimeError:
        return False
