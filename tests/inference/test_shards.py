"""Embedding across processes: stable shards, part files merged without loss or duplicates,
resume by record whatever the world size, and ``torchrun --nproc_per_node 2`` end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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
from vjepa2.inference.records import RECORDS
from vjepa2.inference.shards import Shard, merge_records, resolve_shard
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.writer import encode_video

VIDEOS = 20
runner = CliRunner()


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """20 short videos, one of them broken."""
    root = tmp_path_factory.mktemp("videos")
    for i in range(VIDEOS - 1):
        encode_video(root / f"c{i:02d}.mp4", signature_frames(4, 32, 32, start=i), fps=10)
    (root / "c19.mp4").write_text("not a video")
    return root


@pytest.fixture(scope="module")
def hf_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model")
    vjepa2.save(random_model(crop_size=32), path)
    return path


def records(out: Path, merged: bool = True) -> dict[str, dict]:
    """The last record of each video; a merged file has exactly one."""
    rows = [json.loads(line) for line in (out / RECORDS).read_text().splitlines()]
    by_video = {Path(r["path"]).name: r for r in rows}
    assert len(by_video) == len(rows) or not merged, "one record per video"
    return by_video


def embeddings(out: Path) -> dict[str, torch.Tensor]:
    return {name: load_file(out / r["output"])["pooled"]
            for name, r in records(out).items() if r["status"] == "ok"}  # fmt: skip


def assert_same_embeddings(a: Path, b: Path) -> None:
    ours, theirs = embeddings(a), embeddings(b)
    assert sorted(ours) == sorted(theirs) and len(ours) == VIDEOS - 1
    for name, value in ours.items():
        assert (value - theirs[name]).abs().max() <= 1e-5, name


def no_parts(out: Path) -> bool:
    return not list(out.glob("records-*")) and len(records(out)) == VIDEOS


def test_shards_are_stable_disjoint_and_cover_the_inputs(tmp_path):
    paths = [tmp_path / f"v{i}.mp4" for i in (5, 3, 9, 1, 7, 2, 8)]
    shards = [Shard(i, 3).take(paths) for i in range(3)]
    assert sorted(p for s in shards for p in s) == sorted(paths)
    assert [len(s) for s in shards] == [3, 2, 2]
    assert Shard(1, 3).take(list(reversed(paths))) == list(reversed(shards[1]))
    assert Shard().take(paths) == paths
    assert Shard.parse(" 2/4 ") == Shard(2, 4)
    for bad in ("4/4", "1", "-1/2", "a/b"):
        with pytest.raises(UsageError):
            Shard.parse(bad)


def test_shard_option_under_torchrun_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert resolve_shard(None) == Shard(1, 2, group=True)
    with pytest.raises(UsageError, match="torchrun"):
        resolve_shard("0/2")


def test_merge_keeps_the_last_record_of_each_video(tmp_path):
    (tmp_path / RECORDS).write_text(json.dumps({"resolved": "/a", "status": "error"}) + "\n")
    first, second = Shard(0, 2).part(tmp_path), Shard(1, 3).part(tmp_path)
    first.write_text(json.dumps({"resolved": "/a", "status": "ok"}) + "\n{torn")
    os.utime(first, ns=(1, 1))  # the older part
    second.write_text("".join(json.dumps({"resolved": r, "status": "ok", "n": 2}) + "\n"
                              for r in ("/b", "/c")))  # fmt: skip
    Shard(1, 3).marker(tmp_path).touch()
    assert merge_records(tmp_path) == 3
    lines = [json.loads(line) for line in (tmp_path / RECORDS).read_text().splitlines()]
    assert [(r["resolved"], r["status"]) for r in lines] == [("/a", "ok"), ("/b", "ok"),
                                                             ("/c", "ok")]  # fmt: skip
    assert not list(tmp_path.glob("records-*"))
    assert merge_records(tmp_path) == 0


def test_shards_by_hand_merge_and_resume_with_another_split(videos, hf_model, tmp_path):
    model = vjepa2.load(hf_model)
    spec = ClipSpec.for_model(model.config)
    paths = sorted(videos.iterdir())
    whole, sharded = tmp_path / "whole", tmp_path / "sharded"
    embed_videos(model, paths, whole, spec, workers=0, progress=False)
    first = embed_videos(model, paths, sharded, spec, workers=0, progress=False,
                         shard=Shard(0, 2))  # fmt: skip
    assert first.done + first.failed == VIDEOS // 2
    assert not (sharded / RECORDS).exists()  # shard 1 has not run: nothing merged yet
    # Shard 1 of 2 "died"; the job is rerun split in 3: shard 0's videos are skipped by record.
    rerun = [embed_videos(model, paths, sharded, spec, workers=0, progress=False,
                          shard=Shard(i, 3)) for i in range(3)]  # fmt: skip
    assert sum(s.done + s.failed for s in rerun) == VIDEOS // 2
    assert sum(s.skipped for s in rerun) == VIDEOS // 2
    assert no_parts(sharded)  # the last of the three merged
    assert_same_embeddings(sharded, whole)
    assert records(sharded)["c19.mp4"]["status"] == "error"


def test_merge_only_and_a_plain_rerun_pick_up_a_dead_shard(videos, hf_model, tmp_path):
    out = tmp_path / "emb"
    base = ["embed", videos, "-m", hf_model, "-o", out, "--workers", 0, "-q"]
    result = runner.invoke(app, [str(a) for a in [*base, "--shard", "1/2"]])
    assert result.exit_code == 0, result.output
    assert "9 embedded, 1 failed" in result.output  # the odd videos, c19 the broken one
    merged = runner.invoke(app, ["embed", "--merge-only", "-o", str(out)])
    assert merged.exit_code == 0 and "10 records merged" in merged.output
    again = runner.invoke(app, [str(a) for a in base])
    # The broken file is tried again (a failure is not "done"), the 9 embedded are skipped.
    assert "10 embedded, 1 failed, 9 already done" in again.output, again.output
    assert not list(out.glob("records-*")) and len(records(out, merged=False)) == VIDEOS


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _torchrun(*args: object) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "vjepa2", *map(str, args)]  # fmt: skip
    result = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_torchrun_two_ranks_equal_one_process_and_resume(videos, hf_model, tmp_path):
    whole, out = tmp_path / "whole", tmp_path / "ddp"
    model = vjepa2.load(hf_model)
    spec = ClipSpec.for_model(model.config)
    embed_videos(model, sorted(videos.iterdir()), whole, spec, workers=0, progress=False)
    # A killed rank, simulated: only shard 0 of 2 ran, its records in a part file.
    args = ["embed", videos, "-m", hf_model, "-o", out, "--workers", 0]
    result = runner.invoke(app, [str(a) for a in [*args, "-q", "--shard", "0/2"]])
    assert result.exit_code == 0, result.output
    run = _torchrun(*args)
    assert no_parts(out)
    assert_same_embeddings(out, whole)
    # Rank 0 alone reports, for the whole job; the other rank's work shows in the numbers.
    assert run.stdout.count("embedded") == 1, run.stdout
    assert "10 already done" in run.stdout, run.stdout
    assert "100%" in run.stderr  # one bar, for the whole job


def test_torchrun_classify_prints_every_video_once_in_order(videos, tmp_path):
    classifier = tmp_path / "classifier"
    vjepa2.save(random_model(classifier=True, crop_size=32), classifier)
    args = ["classify", videos, "-m", classifier, "--json", "--workers", 0]
    alone = runner.invoke(app, [str(a) for a in args])
    assert alone.exit_code == 0, alone.output
    run = _torchrun(*args)
    ours = [json.loads(line) for line in run.stdout.splitlines()]
    theirs = [json.loads(line) for line in alone.output.splitlines()]
    assert [r["path"] for r in ours] == [r["path"] for r in theirs] and len(ours) == VIDEOS
    for a, b in zip(ours, theirs, strict=True):
        assert [t["label"] for t in a["top_k"]] == [t["label"] for t in b["top_k"]]
        assert [t["probability"] for t in a["top_k"]] == pytest.approx(
            [t["probability"] for t in b["top_k"]], abs=1e-5
        )


def _rank_pids(launcher: int) -> dict[int, int]:
    """RANK -> pid of the processes torchrun started (its children, by their environment)."""
    pids = {}
    children = Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()
    for pid in map(int, children):
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        rank = [int(v[5:]) for v in environ if v.startswith(b"RANK=")]
        if rank:
            pids[rank[0]] = pid
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the ranks in /proc")
def test_torchrun_rank_killed_mid_run_then_rerun(videos, hf_model, tmp_path):
    """SIGKILL rank 1 once some videos are done: torchrun stops the job; run it again: every
    video once, the embeddings of one process."""
    out, whole = tmp_path / "ddp", tmp_path / "whole"
    slow = ["--segments", "4", "--views", "3", "--batch-size", "1", "--workers", "0"]
    model = vjepa2.load(hf_model)
    spec = ClipSpec.for_model(model.config, segments=4, views=3)
    embed_videos(model, sorted(videos.iterdir()), whole, spec, workers=0, progress=False)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", "-m", "vjepa2", "embed", str(videos), "-m",
               str(hf_model), "-o", str(out), "-q", *slow]  # fmt: skip
    launcher = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 180
    while sum(len(p.read_bytes().splitlines()) for p in out.glob("records-*.jsonl")) < 3:
        assert launcher.poll() is None and time.monotonic() < deadline, "no records in time"
        time.sleep(0.05)
    os.kill(_rank_pids(launcher.pid)[1], signal.SIGKILL)
    assert launcher.wait(timeout=120) != 0
    assert list(out.glob("records-*.jsonl")) and not (out / RECORDS).exists()  # not merged
    _torchrun("embed", videos, "-m", hf_model, "-o", out, *slow)
    assert no_parts(out)
    assert_same_embeddings(out, whole)
