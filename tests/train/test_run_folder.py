"""The run folder's promises: no silent overwrite, resume refuses other settings (naming them),
a torn metrics line is tolerated, a killed write's temp file is cleaned up, TensorBoard is
optional; and the shared epoch loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from vjepa2.errors import UsageError
from vjepa2.files import atomic_write, write_text_atomic
from vjepa2.train.loop import LoopPlan, TimeLimit, run_epochs
from vjepa2.train.options import option, options_json
from vjepa2.train.run_folder import (
    RunFolder,
    list_digest,
    read_jsonl,
    summary_writer,
    truncate_jsonl,
)
from vjepa2.train.state import RunState


@dataclass
class Opts:
    lr: float = option(1e-3, "lr")
    epochs: int = option(5, "epochs", resume="changeable")
    workers: int = option(2, "workers", resume="free")


def _folder(path, opts=None, data=("a.mp4",)):
    folder = RunFolder(path, ("run.json", "latest.pt", "tb", "epoch-*.pt"))
    folder.identity = {"options": options_json(opts or Opts()), "data": list_digest(data)}
    return folder


def test_a_folder_with_a_run_is_refused_naming_resume_and_overwrite(tmp_path):
    folder = _folder(tmp_path)
    assert folder.open(resume=False, overwrite=False) is False  # empty: a new run
    folder.write_identity()
    (tmp_path / "latest.pt").write_text("30 steps")
    with pytest.raises(UsageError, match=r"--resume.*--overwrite"):
        _folder(tmp_path).open(resume=False, overwrite=False)
    assert (tmp_path / "latest.pt").read_text() == "30 steps"
    with pytest.raises(UsageError, match="give one of them"):
        _folder(tmp_path).open(resume=True, overwrite=True)
    assert _folder(tmp_path).open(resume=True, overwrite=False) is True


def test_overwrite_deletes_the_run_files_only(tmp_path):
    folder = _folder(tmp_path)
    folder.write_identity()
    for name in ("latest.pt", "epoch-0001.pt", "notes.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "tb").mkdir()
    (tmp_path / "tb" / "events").write_text("x")
    assert _folder(tmp_path).open(resume=False, overwrite=True) is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_resume_refuses_other_settings_and_names_them(tmp_path):
    _folder(tmp_path).write_identity()
    changed = _folder(tmp_path, Opts(lr=1e-4, epochs=9, workers=0), data=("b.mp4",))
    with pytest.raises(UsageError) as refused:
        changed.check_identity(Opts)
    message = str(refused.value)
    assert "lr: 0.001 -> 0.0001" in message and "epochs: 5 -> 9" in message
    assert "data:" in message and "workers" not in message  # workers is free to change
    # epochs may change when asked for; lr and the data never.
    with pytest.raises(UsageError, match="lr") as still:
        changed.check_identity(Opts, allowed=["epochs"])
    assert "epochs" not in str(still.value)
    _folder(tmp_path, Opts(epochs=9, workers=0)).check_identity(Opts, allowed=["epochs"])
    with pytest.raises(UsageError, match="--allow-change epochs"):
        _folder(tmp_path, Opts(epochs=9)).check_identity(Opts)


@dataclass
class NewerOpts(Opts):
    """`Opts` after a release added two options."""

    rank: int = option(0, "rank")
    targets: tuple[str, ...] = option(("qkv", "proj"), "targets")


def test_a_run_made_before_an_option_existed_resumes_at_its_default(tmp_path):
    _folder(tmp_path).write_identity()  # run.json without rank/targets
    _folder(tmp_path, NewerOpts()).check_identity(NewerOpts)
    with pytest.raises(UsageError, match=r"rank: 0 -> 4"):
        _folder(tmp_path, NewerOpts(rank=4)).check_identity(NewerOpts)
    with pytest.raises(UsageError, match=r"targets: \['qkv', 'proj'\] -> \['qkv'\]"):
        _folder(tmp_path, NewerOpts(targets=("qkv",))).check_identity(NewerOpts)


def test_a_torn_metrics_line_is_tolerated_and_the_rewrite_is_atomic(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": s, "loss": 1.0 / s}) for s in range(1, 8)]
    path.write_text("\n".join(lines) + '\n{"step": 8, "lo')  # power loss mid-line
    assert [r["step"] for r in read_jsonl(path)] == list(range(1, 8))
    truncate_jsonl(path, 5)
    assert [r["step"] for r in read_jsonl(path)] == [1, 2, 3, 4, 5]
    assert path.read_text().endswith("\n") and not list(tmp_path.glob(".*.tmp"))


def test_temp_files_of_killed_writes_are_removed_by_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".latest.pt.{int(dead.stdout)}.tmp"
    stale.write_text("half a checkpoint")
    alive = tmp_path / f".other.json.{os.getppid()}.tmp"  # a running process's write
    alive.write_text("{")
    write_text_atomic(tmp_path / "run.json", "{}")
    assert not stale.exists() and alive.exists()
    with atomic_write(tmp_path / "x.txt") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "x.txt").read_text() == "x"


def test_without_tensorboard_the_run_says_so_and_logs_nothing(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with caplog.at_level("WARNING", logger="vjepa2.train"):
        writer = summary_writer(tmp_path / "tb")
    writer.add_scalar("loss", 1.0, 1)
    writer.close()
    assert "tensorboard is not installed" in caplog.text
    assert not (tmp_path / "tb").exists()


def test_the_loop_resumes_mid_epoch_and_stops_at_max_steps():
    def record(state, plan, log):
        def batches(epoch, start):
            return [(epoch, b) for b in range(start, plan.batches_per_epoch)]

        def train_batch(batch):
            log.append(batch)
            if state.position % 2 == 0 or state.position == plan.batches_per_epoch:
                state.step += 1  # accumulation 2
                return True
            return False

        saves = []
        run_epochs(state, plan, batches, train_batch, lambda: saves.append(state.counters()))
        return saves

    plan = LoopPlan(epochs=2, batches_per_epoch=5, checkpoint_every=2)
    whole: list = []
    saves = record(RunState(), plan, whole)
    assert whole == [(e, b) for e in range(2) for b in range(5)]
    assert saves[0] == {"epoch": 0, "position": 4, "step": 2}
    assert saves[-1] == {"epoch": 2, "position": 0, "step": 6}
    resumed: list = []
    record(RunState(**saves[0]), plan, resumed)
    assert resumed == whole[4:]
    stopped: list = []
    saves = record(RunState(), LoopPlan(2, 5, max_steps=4), stopped)
    assert len(stopped) == 7 and saves == [{"epoch": 1, "position": 0, "step": 3},
                                            {"epoch": 1, "position": 2, "step": 4}]  # fmt: skip


def test_the_loop_stops_where_should_stop_says_and_a_time_limit_agrees_across_ranks():
    state, trained, saves = RunState(), [], []

    def train_batch(batch):
        trained.append(batch)
        state.step += 1
        return True

    def batches(epoch, start):
        return [(epoch, b) for b in range(start, 4)]

    answers = iter([False] * 5 + [True])
    run_epochs(state, LoopPlan(3, 4), batches, train_batch, lambda: saves.append(state.counters()),
               should_stop=lambda: next(answers))  # fmt: skip
    assert trained == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]
    assert saves[-1] == {"epoch": 1, "position": 2, "step": 6}  # a checkpoint where it stopped
    assert not TimeLimit(None)() and not TimeLimit(60)()
    spent = TimeLimit(0)
    assert spent() and spent.reached
    assert not TimeLimit(0, agree=lambda flag: False)()  # the other ranks' answer wins
