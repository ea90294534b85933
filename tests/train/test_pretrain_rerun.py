"""Re-running pretraining into a run folder: refused unless --resume or --overwrite; a resume
with other options or data is refused naming them; a torn metrics line does not stop a resume."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from vjepa2.data.motion import MotionSettings, make_motion_dataset
from vjepa2.data.pretrain_clips import training_videos
from vjepa2.errors import UsageError
from vjepa2.train.pretrain import PretrainOptions, pretrain

TINY = dict(
    hidden_size=48, num_attention_heads=3, num_hidden_layers=1,
    pred_hidden_size=24, pred_num_attention_heads=2, pred_num_hidden_layers=1,
)  # fmt: skip


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("motion")
    make_motion_dataset(root, seed=2, counts={"unlabelled": 8},
                        settings=MotionSettings(frames=4, size=32))  # fmt: skip
    return root / "unlabelled.txt"


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _options(videos: Path, out: Path, **changes) -> PretrainOptions:
    opts = PretrainOptions(data=str(videos), out=out, overrides=TINY, epochs=2, batch_size=4,
                           frames=4, crop_size=32, workers=0, log_every=1)  # fmt: skip
    return replace(opts, **changes)


def _steps(out: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_rerun_without_resume_is_refused_and_keeps_the_run(videos, tmp_path):
    out = tmp_path / "run"
    pretrain(_options(videos, out, epochs=3))
    before = (out / "latest.pt").read_bytes(), (out / "metrics.jsonl").read_text()
    with pytest.raises(UsageError, match=r"--resume.*--overwrite"):
        pretrain(_options(videos, out, max_steps=1))
    assert ((out / "latest.pt").read_bytes(), (out / "metrics.jsonl").read_text()) == before
    summary = pretrain(_options(videos, out, max_steps=1, overwrite=True))
    assert summary["steps"] == 1 and _steps(out) == [1]
    assert torch.load(out / "latest.pt", weights_only=True)["step"] == 1


def test_resume_refuses_other_options_and_data_naming_them(videos, tmp_path):
    out = tmp_path / "run"
    pretrain(_options(videos, out, max_steps=2))
    with pytest.raises(UsageError, match=r"lr: 0\.000525 -> 0\.001") as refused:
        pretrain(_options(videos, out, lr=1e-3, resume=True))
    assert "epochs" not in str(refused.value)
    other = videos.parent / "other.txt"
    other.write_text("\n".join(str(p) for p in training_videos(videos)[::-1]) + "\n")
    with pytest.raises(UsageError, match="data:"):
        pretrain(_options(other, out, resume=True))
    with pytest.raises(UsageError, match="--allow-change epochs"):
        pretrain(_options(videos, out, epochs=3, resume=True))
    # A torn last line (power loss mid-write) does not stop the resume.
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "lo')
    with pytest.raises(UsageError, match="max-steps: 2 -> None"):
        pretrain(_options(videos, out, epochs=3, resume=True, allow_change=("epochs",)))
    allowed = ("epochs", "max-steps")
    summary = pretrain(_options(videos, out, epochs=3, resume=True, allow_change=allowed))
    assert summary["steps"] == 6 and _steps(out) == [1, 2, 3, 4, 5, 6]
    assert json.loads((out / "run.json").read_text())["options"]["epochs"] == 3


def test_a_time_limit_stops_cleanly_and_resume_finishes_the_run(videos, tmp_path):
    out = tmp_path / "run"
    summary = pretrain(_options(videos, out, time_limit=1e-9))  # spent after the first step
    assert summary["steps"] == 1 and _steps(out) == [1]
    assert torch.load(out / "latest.pt", weights_only=True)["step"] == 1
    summary = pretrain(_options(videos, out, resume=True))  # --time-limit may change on resume
    assert _steps(out) == list(range(1, summary["steps"] + 1)) and summary["steps"] > 1
