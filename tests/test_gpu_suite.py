"""benchmarks/gpu_suite.py runs end to end on the CPU with tiny shapes (what the GPU run does)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_suite_smoke_runs_every_section(tmp_path):
    result = subprocess.run(
        [sys.executable, "gpu_suite.py", "--smoke", "--no-compile", "--device", "cpu",
         "--out", str(tmp_path)],
        cwd=ROOT / "benchmarks", capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    sections = {json.loads(line)["section"] for line in (tmp_path / "results.jsonl").open()}
    assert sections == {"encoder", "memory", "embed", "probe", "ac", "mfu"}
    table = (tmp_path / "results.md").read_text()
    assert "## encoder" in table and "## ac" in table and "errors" not in table
