"""``vjepa2 embed --engine ray`` on a local Ray instance with 2 CPUs: the plain path's
embeddings and records, a broken file recorded, a rerun skipping what is done."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import vjepa2
from tests.weights.test_loading import random_model
from vjepa2.cli import app
from vjepa2.data.clip_pipeline import ClipSpec
from vjepa2.errors import UsageError
from vjepa2.inference.embed import embed_videos
from vjepa2.inference.ray_engine import embed_videos_ray, require_ray
from vjepa2.inference.records import RECORDS
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.writer import encode_video

ray = pytest.importorskip("ray", reason="the ray extra: pip install 'vjepa2[ray]'")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[Path]:
    """5 videos of different lengths (one read as 2 segments x 3 views), one broken file."""
    root = tmp_path_factory.mktemp("videos")
    for i in range(5):
        encode_video(root / f"v{i}.mp4", signature_frames(4 + 3 * i, 32, 48, start=i), fps=10)
    (root / "broken.mp4").write_bytes(b"\0" * 100)
    return sorted(root.iterdir())


def records(out: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in (out / RECORDS).read_text().splitlines()]
    return {Path(r["path"]).name: r for r in rows}


@pytest.mark.slow  # starting Ray takes most of a minute on 2 busy cores
def test_ray_pipeline_equals_the_plain_path(local_ray, videos, tmp_path):
    model = random_model(crop_size=32)
    spec = ClipSpec.for_model(model.config, segments=2, views=3)
    plain, on_ray = tmp_path / "plain", tmp_path / "ray"
    options = dict(pool="both", batch_size=4, progress=False)
    embed_videos(model, videos, plain, spec, workers=0, **options)
    summary = embed_videos_ray(model, videos, on_ray, spec, **options)
    assert (summary.done, summary.failed) == (5, 1)
    ours, theirs = records(on_ray), records(plain)
    assert ours.keys() == theirs.keys()
    assert ours["broken.mp4"]["status"] == "error" and ours["broken.mp4"]["error"]
    for name, record in theirs.items():
        if record["status"] != "ok":
            continue
        assert ours[name]["output"] == record["output"]
        assert ours[name]["frames"] == record["frames"]
        a, b = load_file(on_ray / record["output"]), load_file(plain / record["output"])
        assert a.keys() == b.keys() and a["tokens"].shape[:2] == (2, 3)
        for key in a:
            assert (a[key].double() - b[key].double()).abs().max() <= 1e-5, (name, key)
    assert (on_ray / "run.json").read_text() == (plain / "run.json").read_text()
    again = embed_videos_ray(model, videos, on_ray, spec, **options)
    assert (again.done, again.failed, again.skipped) == (0, 1, 5)  # the broken file is retried
    # The CLI, on the instance already running.
    vjepa2.save(model, tmp_path / "model")
    cli = CliRunner().invoke(
        app,
        [
            str(a)
            for a in (
                "embed",
                *videos,
                "-m",
                tmp_path / "model",
                "-o",
                tmp_path / "cli",
                "--engine",
                "ray",
            )
        ],
    )
    assert cli.exit_code == 0 and "5 embedded, 1 failed" in cli.output, cli.output


def test_without_ray_the_engine_is_a_one_line_usage_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UsageError, match=r"vjepa2\[ray\]"):
        require_ray()
    assert vjepa2 and torch  # the package itself imports without ray


def test_ray_is_not_sharded_by_hand(videos, tmp_path):
    args = ("embed", *videos, "-m", "x", "-o", tmp_path, "--engine", "ray", "--shard", "0/2")
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 2 and "without torchrun or --shard" in result.output
