"""Every verb fails with one line naming the option or file and the reason: exit 2 for bad
usage, 1 for a failure at run time, the traceback only with --debug."""

from __future__ import annotations

import errno

import pytest
from typer.testing import CliRunner

from vjepa2.cli import app
from vjepa2.errors import UsageError, VJEPA2Error
from vjepa2.train import pretrain as pretraining
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.writer import encode_video

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _one_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


PRETRAIN = ("pretrain", "--data", "videos.txt", "--out", "run")


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--batch-size", "0", "--batch-size"),
        ("--batch-size", "-1", "--batch-size"),
        ("--workers", "-1", "--workers"),
        ("--fps", "0", "--fps"),
        ("--fps", "-1", "--fps"),
        ("--frames", "0", "--frames"),
        ("--epochs", "0", "--epochs"),
        ("--dtype", "fp8", "--dtype"),
    ],
)
def test_bad_numbers_are_refused_before_any_work(option, value, words):
    result = run(*PRETRAIN, option, value)
    assert result.exit_code == 2 and words in result.output, result.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--device", "tpu"), "--device 'tpu'"),
        (("--mask", "4"), "2 to 4 fields"),
        (("--set", "novalue"), "key=value"),
    ],
)
def test_bad_values_are_one_line_usage_errors(args, words):
    result = run(*PRETRAIN, *args)
    assert result.exit_code == 2
    assert words in _one_line(result) and "Traceback" not in result.output


PROBE = ("train-probe", "-m", "nowhere", "-o", "run", "--data", "x.csv")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--views", "2"), "--views 2"),
        (("--top-k", "1"), "No such option"),
        (("--split", "0.5", "0.5", "0.5"), "sum to 1.5"),
        (("--frame-step", "0"), "--frame-step"),
        (("--batch-size", "0"), "--batch-size"),
        (("--lr", "abc"), "comma-separated numbers"),
        (("--device", "tpu"), "--device"),
    ],
)
def test_train_probe_refuses_nonsense(args, words):
    result = run(*PROBE, *args)
    assert result.exit_code == 2 and words in result.output, result.output


def test_failures_are_one_line_with_exit_1_and_a_traceback_only_with_debug(monkeypatch):
    def fail(opts):
        raise VJEPA2Error("the disk said no")

    monkeypatch.setattr(pretraining, "pretrain", fail)
    result = run(*PRETRAIN)
    assert result.exit_code == 1 and _one_line(result) == "Error: the disk said no"
    debug = run("--debug", *PRETRAIN)
    assert isinstance(debug.exception, VJEPA2Error)


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [
        (UsageError("--data: no videos"), 2, "--data: no videos"),
        (OSError(errno.EROFS, "Read-only file system", "/ro/run/latest.pt"), 1,
         "/ro/run/latest.pt: Read-only file system"),
        (OSError(errno.ENOSPC, "No space left on device", "run/latest.pt"), 1,
         "run/latest.pt: No space left on device"),
        (FileExistsError(errno.EEXIST, "File exists", "out"), 2, "out: File exists"),
        (NotADirectoryError(errno.ENOTDIR, "Not a directory", "file.txt/run.json"), 2,
         "file.txt/run.json: Not a directory"),
        (RuntimeError("something unexpected\nsecond line"), 1,
         "RuntimeError: something unexpected (rerun with --debug"),
    ],
)  # fmt: skip
def test_each_kind_of_failure(monkeypatch, error, code, words):
    def fail(opts):
        raise error

    monkeypatch.setattr(pretraining, "pretrain", fail)
    result = run(*PRETRAIN)
    assert result.exit_code == code and words in _one_line(result)


def test_demo_refuses_a_missing_video_and_top_k_0(tmp_path):
    missing = run("demo", "--video", tmp_path / "missing.mp4")
    assert missing.exit_code == 2 and "missing.mp4" in _one_line(missing)
    assert run("demo", "--top-k", "0").exit_code == 2


@pytest.fixture(scope="module")
def demo_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "v.mp4"
    return encode_video(path, signature_frames(16, 64, 64), fps=8)


@pytest.mark.parametrize(
    "args",
    [
        ["embed", "{video}", "-m", "demo", "-o", "{out}", "--batch-size", "0"],
        ["embed", "{video}", "-m", "demo", "-o", "{out}", "--workers", "-1"],
        ["embed", "{video}", "-m", "demo", "-o", "{out}", "--frames", "3"],
        ["embed", "{video}", "-m", "demo", "-o", "{out}", "--frame-step", "0"],
        ["embed", "{video}", "-m", "demo", "-o", "{out}", "--stride", "0"],
        ["classify", "{video}", "-m", "demo", "--top-k", "0"],
        ["classify", "{video}", "-m", "demo", "--top-k", "-1"],
        ["classify", "{video}", "-m", "demo", "--views", "2"],
        ["classify", "{video}", "-m", "demo", "--fps", "-1"],
    ],
)
def test_nonsense_sampling_and_batching_options_are_refused(args, tmp_path, demo_clip):
    out = tmp_path / "out"
    result = runner.invoke(app, [a.format(video=demo_clip, out=out) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and not out.exists()
