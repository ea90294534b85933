"""The preprocessing an exported graph expects, written beside it as ``preprocessing.json``.

The graphs start at normalised pixels ``[B, T, 3, crop, crop]``: decoding, frame sampling,
resizing, cropping and normalising are left to the deployer, to be done as
`vjepa2.video.transforms.preprocess` and `vjepa2.data.clip_pipeline.ClipSpec.for_model` do them
for this checkpoint. docs/export.md describes each field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vjepa2.config import VJEPA2Config
from vjepa2.data.clip_pipeline import ClipSpec
from vjepa2.export.graphs import INPUT_NAME
from vjepa2.files import write_text_atomic
from vjepa2.video.transforms import IMAGENET_MEAN, IMAGENET_STD, short_side_size

PREPROCESSING_NAME = "preprocessing.json"
FORMAT_VERSION = 1

Range = tuple[int, int | None]  # (min, max); max None: unbounded


def preprocessing_record(
    config: VJEPA2Config,
    frames: int,
    ranges: dict[str, Range],
    outputs: dict[str, dict[str, Any]],
    model_name: str,
) -> dict[str, Any]:
    """The JSON record: input, dynamic sizes, sampling, resize, crop, normalisation, outputs
    (and the class names of a classifier)."""
    spec = ClipSpec.for_model(config, frames=frames)
    crop = config.crop_size
    record: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model": model_name,
        "input": {
            "name": INPUT_NAME,
            "dtype": "float32",
            "shape": ["batch", "frames", config.in_chans, crop, crop],
            "channels": "RGB",
        },
        "batch": _range(ranges["batch"]),
        "frames": {
            "per_clip": spec.frames,
            "multiple_of": config.tubelet_size,
            **_range(ranges["frames"]),
        },
        "sampling": {"start": "first frame", "frame_step": spec.frame_step, "fps": spec.fps},
        "resize": {
            "short_side": short_side_size(crop),
            "long_side": "int(short_side * long / short)",
            "interpolation": "bilinear",
            "antialias": True,
            "align_corners": False,
        },
        "crop": {
            "kind": "center",
            "size": crop,
            "top": "int((height - size) / 2)",
            "left": "int((width - size) / 2)",
        },
        "normalize": {
            "input_range": [0, 255],
            "formula": "(pixel - mean) / std",
            "mean": _scaled(IMAGENET_MEAN),
            "std": _scaled(IMAGENET_STD),
        },
        "outputs": outputs,
    }
    if config.id2label:
        record["id2label"] = {str(k): v for k, v in sorted(config.id2label.items())}
    return record


def write_preprocessing(folder: Path, record: dict[str, Any]) -> Path:
    return write_text_atomic(folder / PREPROCESSING_NAME, json.dumps(record, indent=2) + "\n")


def _range(bounds: Range) -> dict[str, Any]:
    low, high = bounds
    return {"dynamic": low != high, "min": low, "max": high}


def _scaled(values) -> list[float]:
    """ImageNet statistics on the 0..255 scale the frames come in."""
    return [round(float(v) * 255.0, 4) for v in values]
