"""Every option of ``vjepa2 train-ac``, written once: the CLI is derived from these fields."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vjepa2.errors import UsageError
from vjepa2.runtime import DTYPES, parse_device
from vjepa2.train.options import option, options_json

ACTION_SOURCES = ("auto", "file", "states")
COND_INITS = ("original", "data")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass
class TrainACOptions:
    """Everything ``vjepa2 train-ac`` takes (``vjepa2 train-ac --help`` shows the same help)."""

    data: str = option(
        help="Trajectory dataset: a folder with train/ (and val/) episodes, each NAME.mp4 + "
        "NAME.npz (states [T, S], optional actions [T-1, A], fps), or a local LeRobot dataset "
        "(meta/info.json, parquet files under data/, videos under videos/); see docs/train-ac.md.",
        cli_type=Path, parse=_text, resume="free",
    )  # fmt: skip
    out: Path = option(  # noqa: RUF009 (option() is a dataclasses.field)
        help="Run folder: latest.pt, model/ (the trained world model), metrics.jsonl, tb/, "
        "cache/ (frame encodings).", resume="free",
    )  # fmt: skip
    model: str | None = option(
        None, "World model to post-train: our folder (config.json + model.safetensors) or "
        "Meta's AC .pt (with --config unless it is the released ViT-g).", resume="free",
    )  # fmt: skip
    config: str | None = option(
        None, "A vjepa2_ac config.json: the architecture of a --model .pt, or, without "
        "--model, of a fresh predictor on --encoder.", cli_type=Path | None, parse=_text,
        resume="free",
    )  # fmt: skip
    encoder: str | None = option(
        None, "With --config alone: the frozen V-JEPA 2 encoder (preset, Hub id, HF folder "
        "or .pt); its architecture replaces the config's encoder section (crop size kept).",
        resume="free",
    )  # fmt: skip
    checkpoint_key: str = option(
        "target_encoder", "Which encoder of an --encoder .pt: target_encoder (the EMA "
        "teacher, as the original) or encoder.", choices=("target_encoder", "encoder"),
    )  # fmt: skip
    epochs: int = option(100, "Passes over the training episodes.", min=1, resume="changeable")
    batch_size: int = option(8, "Clips per process and step (the original: 8).", min=1)
    clips_per_episode: int = option(
        1, "Clips drawn from each episode per epoch (each at its own random start).", min=1
    )
    frames: int = option(8, "Frames per clip (the original: 8).", min=2)
    fps: float = option(
        4.0, "Sample clips at about this frame rate: every ceil(episode fps / FPS)-th frame "
        "(the original: 4).", min=0, min_open=True,
    )  # fmt: skip
    rollout_steps: int = option(
        2, "Auto-regressive steps of the rollout loss (the original: 2; at most frames-1).",
        min=1,
    )  # fmt: skip
    actions: str = option(
        "auto", "Where actions come from: auto (the file's, else derived from the states), "
        "file (required in every episode) or states (always derived, as the original).",
        choices=ACTION_SOURCES,
    )  # fmt: skip
    camera: str | None = option(
        None, "LeRobot data: the camera whose video is encoded (its video key or last part, "
        "e.g. top; unset: the first video feature of meta/info.json).",
    )  # fmt: skip
    state_key: str | None = option(
        None, "LeRobot data: the parquet column of the states (unset: observation.state)."
    )
    action_key: str | None = option(
        None, "LeRobot data: the parquet column of the actions (unset: action)."
    )
    val_episodes: int | None = option(
        None, "LeRobot data: the last N episodes (by index) are the validation split (unset: "
        "none).", min=1,
    )  # fmt: skip
    cond_init: str = option(
        "original", "Init of a fresh predictor's action and state encoders: original (the "
        "original's truncated normal) or data (the same, each input column divided by its "
        "standard deviation over the training episodes, so small actions such as a few "
        "centimetres reach the predictor at once; see docs/train-ac.md).",
        choices=COND_INITS,
    )  # fmt: skip
    lr: float = option(4.25e-4, "Peak learning rate (the stable phase).", min=0)
    start_lr: float = option(7.5e-5, "Learning rate at step 0 (linear warmup from it).", min=0)
    final_lr: float = option(0.0, "Learning rate at the end of the linear decay.", min=0)
    warmup: float = option(5.0, "Warmup length in epochs.", min=0)
    decay: float = option(5.0, "Linear decay over the last DECAY epochs (0: none).", min=0)
    weight_decay: float = option(0.04, "AdamW weight decay (not on biases and norms).", min=0)
    clip_grad: float | None = option(
        None, "Clip the gradient norm to this value (unset: no clipping).", min=0,
        min_open=True,
    )  # fmt: skip
    val_every: int = option(
        1, "Epochs between validation losses on val/ (0: never).", min=0, resume="changeable"
    )
    cache_dtype: str = option(
        "auto", "Stored precision of the cached frame encodings: auto (the compute dtype), "
        "fp32, bf16, fp16.", choices=("auto", *DTYPES),
    )  # fmt: skip
    encode_batch: int = option(64, "Frames per encoder call while filling the cache.", min=1,
                               resume="free")  # fmt: skip
    device: str = option("auto", "auto, cpu, cuda, cuda:1, mps.", resume="changeable")
    dtype: str = option("auto", "auto (bf16 autocast on CUDA, else fp32), fp32, bf16, fp16.",
                        choices=("auto", *DTYPES))  # fmt: skip
    seed: int = option(0, "Seeds a fresh predictor, the clip order and the clip starts.")
    resume: bool = option(False, "Continue from OUT/latest.pt exactly where it stopped (the "
                          "same options, model and data).", resume="free")  # fmt: skip
    overwrite: bool = option(
        False, "Delete the run already in OUT and start again (the encoding cache is kept: "
        "it is keyed on the encoder).", resume="free",
    )  # fmt: skip
    allow_change: tuple[str, ...] = option(
        (), "With --resume: accept a changed option that is safe to change (epochs, "
        "max-steps, device, val-every; repeatable).",
        cli_type=list[str] | None, parse=lambda names: tuple(names or ()), resume="free",
    )  # fmt: skip
    checkpoint_every: int = option(
        0, "Also write latest.pt every N steps (0: at epoch ends only).", min=0, resume="free"
    )
    log_every: int = option(10, "Steps between throughput measurements.", min=1, resume="free")
    max_steps: int | None = option(
        None, "Stop after this many steps (the schedule still spans --epochs).", min=1,
        resume="changeable",
    )  # fmt: skip
    time_limit: float | None = option(
        None, "Stop cleanly after this many minutes of training, latest.pt written; --resume "
        "continues (the schedules still span --epochs).", min=0, min_open=True, resume="free",
    )  # fmt: skip

    def __post_init__(self) -> None:
        parse_device(self.device)
        for name in ("dtype", "cache_dtype"):
            if getattr(self, name) not in ("auto", *DTYPES):
                flag = name.replace("_", "-")
                raise UsageError(f"--{flag} {getattr(self, name)!r}: choose auto, "
                                 f"{', '.join(DTYPES)}")  # fmt: skip
        if self.rollout_steps > self.frames - 1:
            raise UsageError(f"--rollout-steps {self.rollout_steps}: a clip of {self.frames} "
                             f"frames allows at most {self.frames - 1}")  # fmt: skip
        if self.model is None and (self.config is None or self.encoder is None):
            raise UsageError("give --model (a world model to post-train), or --config and "
                             "--encoder (a fresh predictor on a V-JEPA 2 encoder)")  # fmt: skip
        if self.model is not None and self.encoder is not None:
            raise UsageError("--encoder builds a fresh predictor: give it with --config "
                             "instead of --model")  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The options as JSON values (run.json and the checkpoint's ``options``)."""
        return options_json(self)
