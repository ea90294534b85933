"""``vjepa2 pretrain-eval``: score a frozen encoder, with its controls, by quick probes on a
labelled train/test pair.

In one call, on features extracted once (each clip decoded once for every encoder):

- the encoders: the one under test and, as controls, the same architecture at random init with
  each of ``random_seeds``;
- the probes, on each encoder: a logistic regression on mean-pooled tokens, an attentive probe
  on all tokens (one fit per ``probe_seeds``), and the same attentive probe given the tokens plus
  fixed 3-D sin-cos positions of their grid cells (``positions``). The probes see the tokens as
  a set: a V-JEPA 2 encoder writes no positions into its output (RoPE acts inside attention),
  so the positions-added probe is the ceiling of what the tokens hold once their order is given;
- the scores: top-1 and, when the classes come in time-reversal pairs
  (`vjepa2.data.motion.reversal_partners`), within-pair direction accuracy (chance 0.5) from the
  probe's logits. Probes fitted with several seeds report mean, sample std and every value.

Meant to compare pretrained against random init, not to replace the full probe protocol
(`vjepa2.train.probe`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from vjepa2.config import VJEPA2Config
from vjepa2.data import read_labelled
from vjepa2.data.motion import reversal_partners, within_pair_accuracy
from vjepa2.errors import UsageError
from vjepa2.models import VJEPA2Model
from vjepa2.models.encoder import VJEPA2Encoder, sincos_positions
from vjepa2.runtime import pick_device
from vjepa2.train.frozen_fits import fit_attentive, fit_logistic, read_eval_clip
from vjepa2.train.options import option
from vjepa2.train.pretrain_monitor import effective_rank, feature_std
from vjepa2.weights import load

RANDOM_PREFIX = "random:"
UNDER_TEST = "encoder"  # the name of the encoder under test in the report
PROBES = {
    "logistic": "logistic (mean-pooled)",
    "attentive": "attentive",
    "attentive_positions": "attentive + positions",
}


def parse_seeds(text: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    """``"0,1,2"`` or ``"0 1 2"`` -> ``(0, 1, 2)``; ``""`` -> ``()``; None -> ``default``."""
    if text is None:
        return default
    try:
        return tuple(int(part) for part in re.split(r"[,\s]+", text.strip()) if part)
    except ValueError:
        raise UsageError(f"seeds: expected integers separated by commas, got {text!r}") from None


@dataclass
class FrozenEvalSettings:
    """How the clips are read and the probes fitted (``vjepa2 pretrain-eval --help``)."""

    frames: int = option(16, "Frames per clip.", min=1)
    fps: float = option(4.0, "Sample at about this frame rate.", min=0, min_open=True)
    crop_size: int | None = option(None, "Resolution (default: config's).", min=1)
    attentive_epochs: int = option(
        30, "Epochs of the attentive probe (0: logistic regression only).", min=0
    )
    probe_blocks: int = option(1, "Self-attention blocks in the attentive probe.", min=0)
    probe_lr: float = option(1e-3, "Attentive-probe learning rate.", min=0)
    probe_seeds: tuple[int, ...] = option(
        (0, 1, 2), "Seeds of the attentive probes, e.g. '0,1,2' or '0 1 2' (the report gives "
        "mean ± std over them).", cli_type=str | None,
        parse=lambda text: parse_seeds(text, (0, 1, 2)),
    )  # fmt: skip
    random_seeds: tuple[int, ...] = option(
        (0, 1), "Controls: the same architecture at random init with each of these seeds, "
        "scored alongside, e.g. '0,1' ('': none).", cli_type=str | None,
        parse=lambda text: parse_seeds(text, (0, 1)),
    )  # fmt: skip
    positions: bool = option(
        True, "Also fit the attentive probe on the tokens plus fixed 3-D sin-cos positions "
        "(what the tokens hold once their order is given)."
    )  # fmt: skip
    device: str = option(
        "auto", "Where features are extracted and attentive probes fitted (auto: CUDA when "
        "there is one)."
    )  # fmt: skip
    seed: int = option(0, "Seed of a 'random:CONFIG.json' encoder under test.")


def random_encoder(config: VJEPA2Config, seed: int) -> VJEPA2Model:
    """The architecture of ``config`` at its training init, seeded (no predictor)."""
    torch.manual_seed(seed)
    model = VJEPA2Model(config.replace(id2label=None, architectures=None), with_predictor=False)
    model.reset_parameters()
    return model


def load_encoder(source: str, checkpoint_key: str = "target_encoder", seed: int = 0) -> VJEPA2Model:
    """The encoder to judge: a checkpoint (``checkpoint_key`` picks the EMA target or the context
    encoder of an original ``.pt``), or ``random:CONFIG.json`` for a seeded random init."""
    if source.startswith(RANDOM_PREFIX):
        return random_encoder(VJEPA2Config.from_json_file(source.removeprefix(RANDOM_PREFIX)), seed)
    key = checkpoint_key if source.endswith((".pt", ".pth")) else "encoder"
    return load(source, checkpoint_key=key)


@torch.no_grad()
def encode_all(
    encoders: Mapping[str, VJEPA2Encoder],
    paths: Sequence[str | os.PathLike],
    frames: int,
    fps: float,
    crop_size: int,
    device: torch.device,
    batch_size: int = 16,
    progress: bool = False,
) -> dict[str, torch.Tensor]:
    """Every encoder's float32 tokens of every video, each clip decoded once:
    ``{name: [N, K, D]}`` on ``device``; a progress bar over the clips when ``progress``."""
    out: dict[str, list[torch.Tensor]] = {name: [] for name in encoders}
    for encoder in encoders.values():
        encoder.eval().to(device)
    with tqdm(total=len(paths), desc="encoding", unit="clip", disable=not progress,
              dynamic_ncols=True) as bar:  # fmt: skip
        for start in range(0, len(paths), batch_size):
            chunk = paths[start:][:batch_size]
            clips = [read_eval_clip(p, frames, fps, crop_size) for p in chunk]
            batch = torch.stack(clips).to(device)
            for name, encoder in encoders.items():
                out[name].append(encoder(batch).float())
            bar.update(len(chunk))
    return {name: torch.cat(tokens) for name, tokens in out.items()}


def spread(values: Sequence[float]) -> dict[str, Any]:
    """``{"mean", "std" (sample; 0 for one value), "values"}`` of the scores of several fits."""
    array = np.asarray(values, dtype=np.float64)
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return {"mean": float(array.mean()), "std": std, "values": [float(v) for v in array]}


@torch.no_grad()
def logits_of(head: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """``head``'s logits of ``inputs`` on the CPU, batched to bound memory: ``[N, C]``."""
    head.eval()
    return torch.cat([head(x).float().cpu() for x in inputs.split(256)])


def scores(
    logits: list[torch.Tensor], labels: torch.Tensor, classes: Sequence[str] | None
) -> dict[str, Any]:
    """Top-1 (and within-pair accuracy when ``classes`` come in time-reversal pairs) of one or
    more fits' test logits ``[N, C]``, each as `spread`."""
    result = {"top1": spread([float((x.argmax(-1) == labels).float().mean()) for x in logits])}
    if classes is not None:
        result["within_pair"] = spread([within_pair_accuracy(x, labels, classes) for x in logits])
    return result


def probe_tokens(
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    grid: tuple[int, int, int],
    pairs: Sequence[str] | None,
    settings: FrozenEvalSettings,
    bar: tqdm | None = None,
) -> dict[str, Any]:
    """Fit the probes on ``train`` tokens ``[N, K, D]`` and labels ``[N]``; score them on
    ``test`` (see the module docstring). ``pairs``: the class names when they come in
    time-reversal pairs, else None. ``bar`` (if given) advances by one per attentive fit."""
    (x_train, y_train), (x_test, y_test) = train, test
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    pooled_train, pooled_test = x_train.mean(1).cpu(), x_test.mean(1).cpu()
    head = fit_logistic(pooled_train, y_train, num_classes)
    result = {
        "logistic": scores([logits_of(head, pooled_test)], y_test, pairs),
        "token_std": feature_std(x_test),
        "effective_rank": effective_rank(pooled_test),
    }
    if not settings.attentive_epochs:
        return result
    inputs = {"attentive": (x_train, x_test)}
    if settings.positions:
        rms = x_train.square().mean().sqrt()
        table = sincos_positions(grid, x_train.size(-1)).to(x_train.device)
        table = table * rms / table.square().mean().sqrt()  # as loud as the tokens
        inputs["attentive_positions"] = (x_train + table, x_test + table)
    labels = y_train.to(x_train.device)
    for name, (fit_on, score_on) in inputs.items():
        logits = []
        for seed in settings.probe_seeds:
            probe = fit_attentive(fit_on, labels, num_classes, epochs=settings.attentive_epochs,
                                  lr=settings.probe_lr, num_self_blocks=settings.probe_blocks,
                                  seed=seed)  # fmt: skip
            logits.append(logits_of(probe, score_on))
            if bar is not None:
                bar.update()
        result[name] = scores(logits, y_test, pairs)
    return result


def frozen_eval(
    model: VJEPA2Model,
    train: str | os.PathLike,
    test: str | os.PathLike,
    settings: FrozenEvalSettings,
    progress: bool = True,
) -> dict[str, Any]:
    """Score ``model``'s encoder and the random-init controls with the probes fitted on
    ``train`` and scored on ``test``. Returns the report (JSON values): ``encoders``
    (``encoder``, ``random-SEED``: per probe ``top1`` and, for paired classes,
    ``within_pair``; ``token_std``, ``effective_rank`` of the test features), ``classes``,
    ``chance``, the clip counts and settings; ``logistic_accuracy`` and ``attentive_accuracy``
    repeat the encoder under test's top-1 (mean over probe seeds)."""
    if settings.attentive_epochs and not settings.probe_seeds:
        raise UsageError("--probe-seeds: give at least one seed (or --attentive-epochs 0)")
    device = pick_device(settings.device)
    crop = settings.crop_size or model.config.crop_size
    train_set = read_labelled(train)
    test_set = read_labelled(test, id2label=train_set.id2label)
    classes = [train_set.id2label[i] for i in range(len(train_set.id2label))]
    pairs = classes if _paired(classes) else None
    encoders = {UNDER_TEST: model.encoder}
    for seed in settings.random_seeds:
        encoders[f"random-{seed}"] = random_encoder(model.config, seed).encoder
    features = {}
    for split, labelled in (("train", train_set), ("test", test_set)):
        paths = [e.path for e in labelled.examples]
        tokens = encode_all(encoders, paths, settings.frames, settings.fps, crop, device,
                            progress=progress)  # fmt: skip
        labels = torch.tensor([e.label for e in labelled.examples])
        features[split] = {name: (x, labels) for name, x in tokens.items()}
    grid = model.encoder.token_grid((1, settings.frames, model.config.in_chans, crop, crop))
    fits = len(encoders) * (1 + settings.positions) * len(settings.probe_seeds)
    with tqdm(total=fits if settings.attentive_epochs else 0, desc="probe fits", unit="fit",
              disable=not progress, dynamic_ncols=True) as bar:  # fmt: skip
        results = {
            name: probe_tokens(features["train"][name], features["test"][name], grid, pairs,
                               settings, bar)
            for name in encoders
        }  # fmt: skip
    report: dict[str, Any] = {
        "classes": classes,
        "paired": pairs is not None,
        "chance": {"top1": 1 / len(classes), "within_pair": 0.5 if pairs else None},
        "train_clips": len(train_set.examples),
        "test_clips": len(test_set.examples),
        "settings": {**dataclasses.asdict(settings), "device": str(device)},
        "encoders": results,
        "logistic_accuracy": results[UNDER_TEST]["logistic"]["top1"]["mean"],
    }
    if settings.attentive_epochs:
        report["attentive_accuracy"] = results[UNDER_TEST]["attentive"]["top1"]["mean"]
    return report


def _paired(classes: Sequence[str]) -> bool:
    try:
        reversal_partners(classes)
    except ValueError:
        return False
    return True


def format_table(report: Mapping[str, Any]) -> str:
    """The report as a text table: one row per encoder and probe, top-1 and within-pair as
    ``mean ± std (n)`` (n: probe seeds), chance last."""
    pairs = report["paired"]
    header = f"{'encoder':<14} {'probe':<24} {'top-1':>19}" + (
        f" {'within-pair':>19}" if pairs else ""
    )
    lines = [header, "-" * len(header)]
    for name, result in report["encoders"].items():
        for key, label in PROBES.items():
            if key not in result:
                continue
            row = f"{name:<14} {label:<24} {_cell(result[key]['top1'])}"
            lines.append(row + (f" {_cell(result[key]['within_pair'])}" if pairs else ""))
    chance = report["chance"]
    row = f"{'chance':<14} {'':<24} {chance['top1']:>19.3f}"
    lines.append(row + (f" {chance['within_pair']:>19.3f}" if pairs else ""))
    return "\n".join(lines)


def _cell(value: Mapping[str, Any]) -> str:
    if len(value["values"]) == 1:
        return f"{value['mean']:>19.3f}"
    if math.isnan(value["mean"]):
        return f"{'nan':>19}"
    return f"{value['mean']:.3f} ± {value['std']:.3f} ({len(value['values'])})".rjust(19)
