"""experiments/supervised_ceiling.py runs and writes its learning curve (tiny settings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "supervised_ceiling.py"


@pytest.mark.parametrize(
    "controls",
    [["--workers", "2"], ["--positions", "input"], ["--positions", "output", "--frozen-encoder"]],
    ids=["end-to-end, 2 drawing processes", "positions in", "frozen, positions out"],
)
def test_supervised_ceiling_writes_a_curve(tmp_path, controls):
    out = tmp_path / "curve.json"
    command = [sys.executable, str(SCRIPT), "--steps", "2", "--eval-every", "1", "--batch", "4",
               "--test-clips", "12", "--width", "32", "--heads", "2", "--layers", "1",
               "--json", str(out), *controls]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    curve = json.loads(out.read_text())["curve"]
    assert [point["step"] for point in curve] == [1, 2]
    for point in curve:
        assert 0 <= point["top1"] <= 1 and 0 <= point["within_pair"] <= 1 and point["loss"] > 0
    assert "within-pair" in result.stdout
