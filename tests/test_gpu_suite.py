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


@pytest.mark.parametrize(
    "script, args",
    [("patch_embed.py", ["--batch", "1", "--frames", "2", "--size", "32"]),
     ("rope.py", ["--batch", "1", "--tokens", "64"])],
)  # fmt: skip
def test_part_benchmarks_check_then_time(script, args):
    result = subprocess.run(
        [sys.executable, script, "--device", "cpu", "--repeats", "2", *args],
        cwd=ROOT / "benchmarks", capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "speed-up" in result.stdout and "1.00x" in result.stdout
