"""experiments/motion_pretraining.sh end to end in a tiny configuration: paired data, the
small-run recipe, the evaluation with its controls, the table; a re-run redoes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "motion_pretraining.sh"
SMALLER = ["--set", "hidden_size=48", "--set", "num_attention_heads=3",
           "--set", "num_hidden_layers=2"]  # fmt: skip


def _run(out: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1", "STEPS": "3", "UNLABELLED": "32", "BATCH": "16",
        "TRAIN_PER_CLASS": "2", "TEST_PER_CLASS": "2", "DATA_WORKERS": "1", "WORKERS": "0",
        "WARMUP": "0", "ATTENTIVE_EPOCHS": "1", "PROBE_SEEDS": "0,1", "EVAL_EVERY": "1",
        "DEVICE": "cpu", "TIME_LIMIT": "60",
    }  # fmt: skip
    return subprocess.run(["bash", str(SCRIPT), str(out), *SMALLER], env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip


@pytest.mark.slow
def test_script_runs_end_to_end_with_controls(tmp_path):
    out = tmp_path / "exp"
    result = _run(out)
    assert result.returncode == 0, result.stderr[-3000:]

    motion = json.loads((out / "data" / "motion.json").read_text())
    assert motion["variant"] == "paired1"
    options = json.loads((out / "pretrain" / "options.json").read_text())
    assert options["epochs"] == 2  # STEPS=3 rounded up to whole epochs of 32 // 16 steps
    assert options["clip_grad"] is None and options["predictor"] == "tiny"
    assert (options["ema_schedule"], options["schedule_scale"]) == ("ramp", 1.25)
    assert options["masks"] == ["1:1:0.5", "8:0.15"]
    assert options["time_limit"] == 60  # TIME_LIMIT reaches --time-limit
    config = json.loads((out / "pretrain" / "config.json").read_text())
    assert (config["pred_hidden_size"], config["pred_num_hidden_layers"]) == (64, 1)
    assert config["hidden_size"] == 48  # the extra options reach pretrain

    final = json.loads((out / "eval-final.json").read_text())
    assert list(final["encoders"]) == ["encoder", "random-0", "random-1"]
    assert final["test_clips"] == 12 and final["paired"]
    assert len(final["encoders"]["encoder"]["attentive"]["within_pair"]["values"]) == 2
    curve = json.loads((out / "eval-epoch-0001.json").read_text())
    assert list(curve["encoders"]) == ["encoder"]  # no controls along the curve
    assert "learning curve" in result.stdout and "random-1" in result.stdout
    assert "within-pair" in result.stdout

    _check_frozen_cost_curves(out, tmp_path)

    stamps = {p: p.stat().st_mtime_ns for p in out.glob("eval-*.json")}
    again = _run(out)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in out.glob("eval-*.json")} == stamps
    assert "random-1" in again.stdout  # the table again, from the saved results


RUNS = SCRIPT.parent / "gpu_learning_runs.sh"


@pytest.mark.slow
def test_gpu_learning_runs_share_one_dataset_and_take_their_own_options(tmp_path):
    """experiments/gpu_learning_runs.sh on the CPU: two runs on one drawn dataset, the second
    with its own lr and the abs_positions encoder; each leaves its scores and diagnostics."""
    work, out = tmp_path / "work", tmp_path / "out"
    env = {
        **os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1", "WORK": str(work), "DEVICE": "cpu", "BATCH": "8",
        "UNLABELLED": "16", "STEPS": "2", "WORKERS": "0", "DATA_WORKERS": "1",
        "TRAIN_PER_CLASS": "2", "TEST_PER_CLASS": "2", "ATTENTIVE_EPOCHS": "1",
        "PROBE_SEEDS": "0", "RANDOM_SEEDS": "", "WARMUP": "0",
    }  # fmt: skip
    small = " ".join(SMALLER)
    result = subprocess.run(
        ["bash", str(RUNS), str(out), "5", f"a={small}",
         f"b={small} --lr 1e-4 --set abs_positions=true"],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    assert (work / "a" / "data").resolve() == (work / "shared" / "data").resolve()
    for name, lr, positions in (("a", 3e-4, None), ("b", 1e-4, True)):
        options = json.loads((work / name / "pretrain" / "options.json").read_text())
        config = json.loads((work / name / "pretrain" / "config.json").read_text())
        assert options["lr"] == lr and config.get("abs_positions") == positions
        assert config["hidden_size"] == 48
        final = json.loads((out / name / "eval-final.json").read_text())
        assert list(final["encoders"]) == ["encoder"] and final["test_clips"] == 12
        time_use = (out / name / "predictor_time_use.txt").read_text()
        assert "visible half played backwards" in time_use
        assert "visible half frozen at its last" in time_use
        assert (out / name / "metrics.jsonl").stat().st_size > 0
    assert "== b:" in result.stdout
    bad = subprocess.run(["bash", str(RUNS), str(out), "5", "no-equals-sign"], env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 2 and "NAME=OPTIONS" in bad.stderr


def test_predictor_extrapolation_trains_only_the_predictor(tmp_path):
    """experiments/predictor_extrapolation.py in seconds: a fresh predictor over a frozen
    abs-positions encoder, its held-out losses as trained and with the visible half reversed."""
    out = tmp_path / "curve.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT.parent / "predictor_extrapolation.py"), "--steps", "2",
         "--eval-every", "1", "--batch", "2", "--test-clips", "6", "--abs-positions",
         "--pred-width", "32", "--pred-heads", "2", "--json", str(out)],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    curve = json.loads(out.read_text())
    assert [row["step"] for row in curve["curve"]] == [1, 2]
    first, last = curve["curve"]
    assert last["loss"] < first["loss"]  # two AdamW steps at lr 1e-3 lower the held-out loss
    assert all(row["hard"] > row["loss"] for row in curve["curve"])
    assert curve["settings"]["abs_positions"] and "backwards" in last


def _check_frozen_cost_curves(out: Path, tmp_path: Path) -> None:
    """experiments/frozen_cost_curves.py on the run's two epoch checkpoints: one point each,
    the last equal to predictor_time_use.py's frozen minus as-trained losses."""
    experiments = SCRIPT.parent
    png, curves = tmp_path / "frozen.png", tmp_path / "frozen.json"
    test_csv, run = str(out / "data" / "test.csv"), out / "pretrain"
    drawn = subprocess.run(
        [sys.executable, str(experiments / "frozen_cost_curves.py"), str(png), test_csv,
         f"tiny={run}", "--clips", "4", "--every", "1", "--json", str(curves)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    points = json.loads(curves.read_text())["tiny"]
    assert [p["step"] for p in points] == [2, 4] and png.stat().st_size > 0
    table = subprocess.run(
        [sys.executable, str(experiments / "predictor_time_use.py"),
         str(run / "epoch-0002.pt"), test_csv, "--clips", "4"],
        capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    rows = {line[:32].strip(): line[32:].split() for line in table.splitlines()[2:]}
    trained, frozen = rows["as trained"], rows["visible half frozen at its last"]
    assert points[-1]["all"] == pytest.approx(float(frozen[0]) - float(trained[0]), abs=2e-4)
    assert points[-1]["hardest"] == pytest.approx(float(frozen[1]) - float(trained[1]), abs=2e-4)
    per_cell = subprocess.run(
        [sys.executable, str(experiments / "predictor_time_use.py"),
         str(run / "epoch-0002.pt"), test_csv, "--clips", "4", "--context", "cell"],
        capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    cell_rows = {line[:32].strip(): line[32:].split() for line in per_cell.splitlines()[2:]}
    assert len(cell_rows) == len(rows)  # the same conditions, each cell's last token alone
    assert cell_rows["as trained"][0] != trained[0]
