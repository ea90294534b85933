"""``vjepa2 pretrain-eval``: score a frozen encoder with two quick probes on a labelled
train/test pair (a logistic regression on mean-pooled tokens, a small attentive probe on all
tokens), both fitted on features extracted once. Meant to compare pretrained against random
init, not to replace the full probe protocol (`vjepa2.train.probe`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from vjepa2.config import VJEPA2Config
from vjepa2.data import read_labelled
from vjepa2.models import VJEPA2Model
from vjepa2.train.options import option
from vjepa2.train.pretrain_probe import accuracy, encode_videos, fit_attentive, fit_logistic
from vjepa2.weights import load

RANDOM_PREFIX = "random:"


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
    seed: int = option(0, "Seed of the random init and of the probe.")


def load_encoder(source: str, checkpoint_key: str = "target_encoder", seed: int = 0) -> VJEPA2Model:
    """The encoder to judge: a checkpoint (``checkpoint_key`` picks the EMA target or the context
    encoder of an original ``.pt``), or ``random:CONFIG.json`` for a seeded random init."""
    if source.startswith(RANDOM_PREFIX):
        torch.manual_seed(seed)
        config = VJEPA2Config.from_json_file(source.removeprefix(RANDOM_PREFIX))
        model = VJEPA2Model(config, with_predictor=False)
        model.reset_parameters()
        return model
    key = checkpoint_key if source.endswith((".pt", ".pth")) else "encoder"
    return load(source, checkpoint_key=key)


def frozen_eval(
    model: VJEPA2Model, train: str | os.PathLike, test: str | os.PathLike,
    settings: FrozenEvalSettings,
) -> dict[str, float]:  # fmt: skip
    """Accuracies on ``test`` of the probes fitted on ``train``: ``logistic_accuracy`` and,
    with ``attentive_epochs``, ``attentive_accuracy``."""
    crop = settings.crop_size or model.config.crop_size
    train_set = read_labelled(train)
    test_set = read_labelled(test, id2label=train_set.id2label)
    features = {}
    for name, labelled in (("train", train_set), ("test", test_set)):
        paths = [e.path for e in labelled.examples]
        tokens = encode_videos(model.encoder, paths, settings.frames, settings.fps, crop)
        features[name] = (tokens, torch.tensor([e.label for e in labelled.examples]))
    (x_train, y_train), (x_test, y_test) = features["train"], features["test"]
    num_classes = len(train_set.id2label)
    head = fit_logistic(x_train.mean(1), y_train, num_classes)
    results = {"logistic_accuracy": accuracy(head, x_test.mean(1), y_test)}
    if settings.attentive_epochs:
        probe = fit_attentive(x_train, y_train, num_classes, epochs=settings.attentive_epochs,
                              lr=settings.probe_lr, num_self_blocks=settings.probe_blocks,
                              seed=settings.seed)  # fmt: skip
        results["attentive_accuracy"] = accuracy(probe, x_test, y_test)
    return results
