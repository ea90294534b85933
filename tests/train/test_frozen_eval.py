"""``pretrain-eval`` with its controls: random init (seeds), the positions-added probe, top-1 and
within-pair accuracy over probe seeds, the table and the JSON."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from tests.conftest import tiny_config
from vjepa2.cli import app
from vjepa2.data.motion import PAIRED_CLASSES, PairedSettings, make_motion_dataset
from vjepa2.errors import UsageError
from vjepa2.models.encoder import sincos_positions
from vjepa2.train.frozen_eval import (
    FrozenEvalSettings,
    format_table,
    frozen_eval,
    parse_seeds,
    random_encoder,
)

CONFIG = tiny_config(hidden_size=48, crop_size=32, frames_per_clip=8)
SETTINGS = dict(frames=8, attentive_epochs=2, probe_seeds=(0, 1), device="cpu")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _dataset(root: Path, classes: tuple[str, ...]) -> Path:
    make_motion_dataset(
        root, seed=1, classes=classes,
        counts={"train": 2 * len(classes), "test": 2 * len(classes)},
        settings=PairedSettings(frames=8, size=32),
    )  # fmt: skip
    return root


@pytest.fixture(scope="module")
def paired(tmp_path_factory) -> Path:
    return _dataset(tmp_path_factory.mktemp("paired"), PAIRED_CLASSES[1])


def _numbers(report: dict):
    for result in report["encoders"].values():
        for probe in ("logistic", "attentive", "attentive_positions"):
            for score in result[probe].values():
                yield from score["values"]


def test_controls_in_one_call_with_within_pair_accuracy(paired, capsys):
    model = random_encoder(CONFIG, 7)
    report = frozen_eval(model, paired / "train.csv", paired / "test.csv",
                         FrozenEvalSettings(**SETTINGS))  # fmt: skip
    bars = capsys.readouterr().err
    assert re.search(r"encoding: 100%\|\S+\| 12/12 ", bars)  # each split's 12 clips
    assert re.search(r"probe fits: 100%\|\S+\| 12/12 ", bars)  # 3 encoders, 2 probes, 2 seeds
    assert list(report["encoders"]) == ["encoder", "random-0", "random-1"]
    assert report["paired"] and report["classes"] == sorted(PAIRED_CLASSES[1])
    assert report["chance"] == {"top1": pytest.approx(1 / 6), "within_pair": 0.5}
    assert (report["train_clips"], report["test_clips"]) == (12, 12)
    for result in report["encoders"].values():
        assert set(result) == {"logistic", "attentive", "attentive_positions", "token_std",
                               "effective_rank"}  # fmt: skip
        for probe in ("attentive", "attentive_positions"):
            assert set(result[probe]) == {"top1", "within_pair"}
            assert len(result[probe]["top1"]["values"]) == 2  # one per probe seed
        assert len(result["logistic"]["top1"]["values"]) == 1  # deterministic fit
    values = list(_numbers(report))
    assert len(values) == 3 * (2 + 4 + 4)
    assert all(0.0 <= v <= 1.0 for v in values)
    assert (
        report["attentive_accuracy"] == report["encoders"]["encoder"]["attentive"]["top1"]["mean"]
    )
    stds = {name: r["token_std"] for name, r in report["encoders"].items()}
    assert len(set(stds.values())) == 3  # three different encoders
    table = format_table(report)
    assert "within-pair" in table and "random-1" in table and "attentive + positions" in table


def test_random_seeds_give_different_encoders():
    a, b, again = random_encoder(CONFIG, 0), random_encoder(CONFIG, 1), random_encoder(CONFIG, 0)
    weights = [dict(m.encoder.named_parameters()) for m in (a, b, again)]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_without_pairs_or_controls(tmp_path):
    root = _dataset(tmp_path, ("translate_left", "translate_up", "grow"))
    settings = FrozenEvalSettings(**{**SETTINGS, "probe_seeds": (3,)}, random_seeds=(),
                                  positions=False)  # fmt: skip
    report = frozen_eval(random_encoder(CONFIG, 0), root / "train.csv", root / "test.csv", settings)
    assert list(report["encoders"]) == ["encoder"] and not report["paired"]
    result = report["encoders"]["encoder"]
    assert "attentive_positions" not in result and set(result["attentive"]) == {"top1"}
    assert report["chance"]["within_pair"] is None
    assert "within-pair" not in format_table(report)


def test_sincos_positions_follow_the_token_order():
    table = sincos_positions((4, 2, 3), 48)  # 8 channels per axis... 2 * (48 // 6) = 16
    assert table.shape == (24, 48)
    assert len({tuple(row.tolist()) for row in table}) == 24  # every cell its own code
    t_part, h_part, w_part = table[:, :16], table[:, 16:32], table[:, 32:48]
    # token n = t * 6 + h * 3 + w: the time channels change only every 6 tokens
    assert torch.equal(t_part[0], t_part[5]) and not torch.equal(t_part[0], t_part[6])
    assert torch.equal(h_part[0], h_part[2]) and not torch.equal(h_part[0], h_part[3])
    assert not torch.equal(w_part[0], w_part[1]) and torch.equal(w_part[0], w_part[6])
    assert torch.equal(table[0, :8], torch.zeros(8)) and torch.equal(table[0, 8:16], torch.ones(8))
    assert torch.equal(sincos_positions((2, 2, 2), 50)[:, 48:], torch.zeros(8, 2))


def test_parse_seeds():
    assert parse_seeds(None, (0, 1)) == (0, 1)
    assert parse_seeds("0,1,2", ()) == parse_seeds(" 0 1  2 ", ()) == (0, 1, 2)
    assert parse_seeds("", (0,)) == ()
    with pytest.raises(UsageError, match="integers"):
        parse_seeds("0,a", ())


def test_cli_prints_the_table_and_writes_every_number(paired, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG.to_dict()))
    out = tmp_path / "eval.json"
    args = ["pretrain-eval", f"random:{config}", "--train", str(paired / "train.csv"),
            "--test", str(paired / "test.csv"), "--frames", "8", "--attentive-epochs", "1",
            "--probe-seeds", "0,1", "--random-seeds", "4", "--device", "cpu",
            "--json", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "random-4" in result.output and "within-pair" in result.output
    report = json.loads(out.read_text())
    assert report["encoder"].startswith("random:") and list(report["encoders"]) == [
        "encoder", "random-4",
    ]  # fmt: skip
    assert report["settings"]["probe_seeds"] == [0, 1]
    assert not any(math.isnan(v) for v in _numbers(report))
    bad = CliRunner().invoke(app, [*args[:-2], "--probe-seeds", "x"])
    assert bad.exit_code == 2
