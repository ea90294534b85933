"""The bundled demo model: what `vjepa2 demo` and `--model demo` run, offline."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import vjepa2
from vjepa2.cli import app
from vjepa2.cli.demo import _tuples
from vjepa2.data.motion import DEMO_CLASSES, DEMO_SETTINGS, MotionSettings, clip_rng, render_clip
from vjepa2.presets import DEMO_DIR

runner = CliRunner()


def test_bundled_files_are_small_and_describe_the_demo_variant():
    size = sum(p.stat().st_size for p in DEMO_DIR.iterdir())
    assert size <= 25 * 2**20
    recipe = json.loads((DEMO_DIR / "motion.json").read_text())
    # `vjepa2 make-motion-data --variant demo` draws exactly the clips the model was trained on.
    assert MotionSettings(**_tuples(recipe["settings"])) == DEMO_SETTINGS
    model = vjepa2.load("demo")
    assert sorted(model.id2label.values()) == sorted(DEMO_CLASSES) == sorted(recipe["classes"])


def test_demo_command_writes_and_classifies_a_clip(tmp_path):
    out = tmp_path / "demo.mp4"
    result = runner.invoke(app, ["demo", "--out", str(out), "--motion", "grow"],
                           env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0 and "generated 'grow' clip" in result.output
    assert sum(name in result.output for name in DEMO_CLASSES) == 5  # the top-5 table
    again = runner.invoke(app, ["classify", str(out), "--model", "demo", "--json"])
    assert again.exit_code == 0, again.output
    assert len(json.loads(again.output.splitlines()[0])["top_k"]) == 5


@pytest.mark.slow
def test_demo_model_beats_chance_on_fresh_clips(tmp_path):
    """48 clips the model never saw (another seed), through `vjepa2.classify` as a user would:
    most are right (chance is 1/6). The held-out test accuracy measured when the model was made
    is in motion.json."""
    from vjepa2.video.writer import encode_video

    model = vjepa2.load("demo").eval()
    names = list(model.id2label.values())
    hits = []
    for i in range(48):
        label = names[i % len(names)]
        path = encode_video(tmp_path / f"{i}.mp4", render_clip(label, clip_rng(123, "test", i),
                            DEMO_SETTINGS), fps=4.0)  # fmt: skip
        hits.append(vjepa2.classify(path, model=model, top_k=1)[0][0] == label)
    assert np.mean(hits) >= 0.75, np.mean(hits)  # 0.925 on the 600 test clips
