"""Every option of ``vjepa2 pretrain``, written once: the CLI is derived from these fields."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vjepa2.errors import UsageError
from vjepa2.runtime import COMPILE_HELP, DTYPES, parse_device
from vjepa2.train.masks import DEFAULT_MASKS, MaskConfig
from vjepa2.train.options import option, options_json


def parse_masks(texts: list[str] | None) -> tuple[MaskConfig, ...]:
    """``--mask`` texts (``BLOCKS:SPATIAL[:TEMPORAL[:ANCHOR]]``) -> mask configurations; none: the
    recipe's two."""
    if not texts:
        return DEFAULT_MASKS
    try:
        return tuple(MaskConfig.parse(text) for text in texts)
    except ValueError as err:
        raise UsageError(f"--mask: {err}") from None


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``--set key=value`` items -> ``{key: value}`` (values read as JSON when they parse)."""
    overrides: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set expects key=value, got {item!r}")
        try:
            overrides[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key.strip()] = value
    return overrides


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# ``--predictor`` shortcuts: config fields set before the ``--set`` overrides (which win).
PREDICTORS: dict[str, dict[str, Any]] = {
    "config": {},
    # One narrow block: too small to extrapolate much itself, so the encoder has to.
    "tiny": {"pred_num_hidden_layers": 1, "pred_hidden_size": 64, "pred_num_attention_heads": 4},
}
EMA_SCHEDULES = ("ramp", "constant")
PRED_CONTEXTS = ("all", "last", "both", "cell")


@dataclass
class PretrainOptions:
    """Everything ``vjepa2 pretrain`` takes (``vjepa2 pretrain --help`` shows the same help)."""

    data: str = option(
        help="Training videos: a folder (searched recursively), a CSV/TSV manifest "
        "(labels ignored) or a list file with one path per line.",
        cli_type=Path, parse=_text, resume="free",
    )  # fmt: skip
    out: Path = option(  # noqa: RUF009 (option() is a dataclasses.field)
        help="Run folder: latest.pt, metrics.jsonl, tb/ (TensorBoard).", resume="free"
    )
    arch: str = option("vit-tiny", "From-scratch size: vit-tiny, vit-small, vit-base, vitl, "
                       "vith, vitg.")  # fmt: skip
    config: str | None = option(None, "config.json with the architecture (instead of --arch).",
                                cli_type=Path | None, parse=_text, resume="free")  # fmt: skip
    init: str | None = option(
        None, "Continue pretraining from a checkpoint: an original .pt (encoder, "
        "target_encoder, predictor), an HF folder, a Hub id or a preset.", resume="free",
    )  # fmt: skip
    predictor: str = option(
        "config", "Predictor shape: 'config' (the architecture's) or 'tiny' (1 block, 64 wide, "
        "4 heads: pred_num_hidden_layers=1, pred_hidden_size=64, pred_num_attention_heads=4; "
        "--set still overrides).", choices=tuple(PREDICTORS),
    )  # fmt: skip
    overrides: dict[str, Any] = option(  # noqa: RUF009
        default_factory=dict, help="Override a config field, e.g. --set num_hidden_layers=6 "
        "--set pred_hidden_size=96 (repeatable).",
        flags=("--set",), cli_type=list[str] | None, parse=parse_overrides,
    )  # fmt: skip
    epochs: int = option(10, "Passes over the data.", min=1, resume="changeable")
    batch_size: int = option(16, "Clips per process and step.", min=1)
    lr: float = option(5.25e-4, "Peak learning rate (after warmup).", min=0)
    start_lr: float = option(1e-4, "Learning rate at step 0.", min=0)
    pred_lr_scale: float = option(
        1.0, "The predictor's learning rate is this many times the encoder's, at every step "
        "(1: one rate for both, as the original).", min=0, min_open=True,
    )  # fmt: skip
    pred_first: int = option(
        0, "Train the predictor alone for the first N steps (the encoder and its EMA target held "
        "still, the predictor at --lr x --pred-lr-scale), then both: the warmup, cosine and EMA "
        "ramp start at step N and span the steps after it. A predictor that already uses the "
        "motion asks the encoder for it from the first joint step (docs/pretraining.md).", min=0,
    )  # fmt: skip
    final_lr: float | None = option(
        None, "Cosine decay to this rate after warmup; unset: constant --lr.", min=0
    )
    warmup: float = option(1.0, "Warmup length in epochs.", min=0)
    schedule_scale: float = option(
        1.25, "The cosine learning rate and the EMA ramp span this many times the run's steps, "
        "as the original does (1.25: they stop short of --final-lr and of the EMA's end value; "
        "1: they reach them at the last step).", min=0, min_open=True,
    )  # fmt: skip
    weight_decay: float = option(0.04, "AdamW weight decay (not on biases and norms).", min=0)
    ema: tuple[float, float] = option(
        (0.99925, 1.0), "Target-encoder EMA momentum: linear from the first to the second over "
        "--schedule-scale times the run (--ema-schedule ramp), or the first throughout "
        "(constant).",
    )  # fmt: skip
    ema_schedule: str = option("ramp", "ramp or constant (see --ema).", choices=EMA_SCHEDULES)
    clip_grad: float | None = option(
        None, "Clip the gradient norm of context encoder + predictor to this (unset or 0: no "
        "clipping, as the original; when on, metrics.jsonl says at each step whether it bound).",
        min=0,
    )  # fmt: skip
    frames: int = option(16, "Frames per clip.", min=1)
    fps: float = option(4.0, "Sample clips at about this frame rate.", min=0, min_open=True)
    crop_size: int = option(256, "Training resolution (square crop).", min=1)
    crop_scale: tuple[float, float] = option(
        (0.3, 1.0), "Random-resized-crop area range (fraction of the frame)."
    )
    pred_context: str = option(
        "all", "What of the context the predictor sees: all of the encoder's context tokens, "
        "or those of the last context time step only (last: the encoder has to write how things "
        "move into those tokens; needs masks whose context ends at one time step for every clip "
        "with the same token count, e.g. 1:1:0.5:end), both (the predictor run on each, the "
        "two losses averaged) or cell (the predictor run once per grid cell on that cell's "
        "last-step token alone: the token itself has to say what comes to its cell).",
        choices=PRED_CONTEXTS,
    )  # fmt: skip
    motion_weight: float = option(
        0.0, "Weight each target token's loss by 1 + A x how much its grid cell's target changes "
        "over time (relative to the clip's average; weights rescaled to mean 1 over the "
        "targets): A > 0 puts the loss where things move rather than on static background "
        "(ours; 0: the plain mean, as the original).", min=0,
    )  # fmt: skip
    masks: tuple[MaskConfig, ...] = option(
        DEFAULT_MASKS,
        "A mask configuration BLOCKS:SPATIAL[:TEMPORAL[:ANCHOR]] (repeatable; the loss "
        "averages them): BLOCKS boxes, each covering SPATIAL of the frame for TEMPORAL of "
        "the clip (default 1), their union predicted from the rest; ANCHOR puts the boxes "
        "anywhere in time (any, the default), at the clip's end or at its start. Default: "
        "the recipe's 8:0.15 (short-range) and 2:0.7 (long-range). On small token grids, "
        "1:1:0.5 (predict half of the clip's time steps from the other half) keeps more "
        "context; 1:1:0.5:end predicts the second half from the first.",
        flags=("--mask",), cli_type=list[str] | None, parse=parse_masks,
    )  # fmt: skip
    workers: int = option(2, "Data-loading processes (0: in the main one).", min=0,
                          resume="free")  # fmt: skip
    cache_frames: bool = option(
        False, "Decode every video once up front (in --workers processes) and keep the frames "
        "in memory (small datasets of short clips).", resume="free",
    )  # fmt: skip
    device: str = option("auto", "auto, cpu, cuda, cuda:1, mps.", resume="changeable")
    dtype: str = option("auto", "auto (bf16 autocast on CUDA, else fp32), fp32, bf16, fp16.",
                        choices=("auto", *DTYPES))  # fmt: skip
    seed: int = option(0, "Seeds the init, the data order and the masks.")
    compile: bool = option(False, COMPILE_HELP, resume="free")
    resume: bool = option(False, "Continue from OUT/latest.pt exactly where it stopped (the "
                          "same options, model and data).", resume="free")  # fmt: skip
    overwrite: bool = option(False, "Delete the run already in OUT and start again.",
                             resume="free")  # fmt: skip
    allow_change: tuple[str, ...] = option(
        (), "With --resume: accept a changed option that is safe to change (epochs, "
        "max-steps, device, probe-data, probe-every; repeatable).",
        cli_type=list[str] | None, parse=lambda names: tuple(names or ()), resume="free",
    )  # fmt: skip
    checkpoint_every: int = option(
        0, "Also write latest.pt every N steps (0: at epoch ends only).", min=0, resume="free"
    )
    keep_epochs: bool = option(False, "Keep a numbered epoch-NNNN.pt at every epoch end.",
                               resume="free")  # fmt: skip
    log_every: int = option(10, "Steps between throughput and collapse measurements.", min=1,
                            resume="free")  # fmt: skip
    probe_data: str | None = option(
        None, "Labelled CSV for a frozen probe after each --probe-every epochs (logistic "
        "regression on mean-pooled target-encoder features, half fit, half scored).",
        cli_type=Path | None, parse=_text, resume="changeable",
    )  # fmt: skip
    probe_every: int = option(1, "Epochs between frozen probes.", min=1, resume="changeable")
    max_steps: int | None = option(
        None, "Stop after this many steps (schedules still span --epochs).", min=1,
        resume="changeable",
    )  # fmt: skip
    time_limit: float | None = option(
        None, "Stop cleanly after this many minutes of training, latest.pt written; --resume "
        "continues (the schedules still span --epochs).", min=0, min_open=True, resume="free",
    )  # fmt: skip

    def __post_init__(self) -> None:
        parse_device(self.device)
        if self.dtype not in ("auto", *DTYPES):
            raise UsageError(f"--dtype {self.dtype!r}: choose auto, {', '.join(DTYPES)}")
        for name, value, choices in (
            ("predictor", self.predictor, tuple(PREDICTORS)),
            ("ema-schedule", self.ema_schedule, EMA_SCHEDULES),
            ("pred-context", self.pred_context, PRED_CONTEXTS),
        ):
            if value not in choices:
                raise UsageError(f"--{name} {value!r}: choose {', '.join(choices)}")
        partial = [m.spec() for m in self.masks if m.anchor != "end" or m.spatial_scale[0] < 1]
        if self.pred_context != "all" and partial:
            raise UsageError(
                f"--pred-context {self.pred_context}: --mask {' '.join(partial)} does not hide "
                "the whole frame at the clip's end, so clips differ in what their last context "
                "step keeps; use masks such as 1:1:0.5:end"
            )

    def to_json(self) -> dict[str, Any]:
        """The options as JSON values, masks as their ``--mask`` text (options.json and the
        checkpoint's ``options``)."""
        values = options_json(self)
        values["masks"] = [mask.spec() for mask in self.masks]
        return values
