"""``vjepa2 embed`` / ``classify`` end to end on generated videos with tiny random checkpoints."""

import gc
import json
import os
import signal
import subprocess
import sys
import time
import weakref

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from typer.testing import CliRunner

import vjepa2
from tests.weights.test_loading import random_model
from vjepa2.cli import app
from vjepa2.data.clip_pipeline import ClipSpec, read_clips
from vjepa2.files import new_file_mode
from vjepa2.inference.embed import embed_video, embed_videos
from vjepa2.video.synthetic import make_broken_files, signature_frames
from vjepa2.video.writer import encode_image, encode_video
from vjepa2.weights import save_original

runner = CliRunner()
GOOD = 8


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """10 videos: 8 readable (mp4/webm/avi/gif, different lengths), 2 broken."""
    root = tmp_path_factory.mktemp("videos")
    codecs = [("mp4", "libx264", {}), ("webm", "libvpx-vp9", {"deadline": "realtime"}),
              ("avi", "mpeg4", {}), ("gif", "gif", {})]  # fmt: skip
    for i in range(GOOD):
        suffix, codec, options = codecs[i % len(codecs)]
        frames = signature_frames(6 + 3 * i, 64, 96, start=i)
        pix_fmt = "rgb8" if codec == "gif" else "yuv420p"
        encode_video(root / f"v{i}.{suffix}", frames, fps=10, codec=codec, pix_fmt=pix_fmt,
                     options=options)  # fmt: skip
    broken = make_broken_files(tmp_path_factory.mktemp("broken"), root / "v0.mp4")
    for name in ("empty", "text"):
        os.replace(broken[name], root / f"broken_{name}.mp4")
    return root


@pytest.fixture(scope="module")
def hf_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model")
    vjepa2.save(random_model(), path)
    return path


@pytest.fixture(scope="module")
def hf_classifier(tmp_path_factory):
    path = tmp_path_factory.mktemp("classifier")
    vjepa2.save(random_model(classifier=True), path)
    return path


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def records(out):
    lines = (out / "records.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("fmt", ["hf", "original"])
def test_folder_with_broken_files(folder, hf_model, tmp_path, fmt):
    model = hf_model
    if fmt == "original":
        model = save_original(vjepa2.load(hf_model), tmp_path / "tiny.pt")
    out = tmp_path / "emb"
    result = cli("embed", folder, "-m", model, "-o", out, "--pool", "both", "--workers", 0, "-q")
    assert result.exit_code == 0, result.output
    assert f"{GOOD} embedded, 2 failed" in result.output
    rows = records(out)
    failed = {os.path.basename(r["path"]): r["error"] for r in rows if r["status"] == "error"}
    assert set(failed) == {"broken_empty.mp4", "broken_text.mp4"}
    assert all(reason for reason in failed.values())
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == GOOD
    tensors = load_file(out / ok[0]["output"])
    assert tensors["tokens"].shape == (1, 1, 2, 4, 4, 96)  # S, V, T', H', W', D (4 frames, 64px)
    torch.testing.assert_close(tensors["pooled"], tensors["tokens"].flatten(2, 4).mean(2))
    # A second run has nothing left to do.
    again = cli("embed", folder, "-m", model, "-o", out, "--pool", "both", "--workers", 0, "-q")
    assert again.exit_code == 0 and f"{GOOD} already done" in again.output


def test_embeddings_equal_the_model_on_the_same_clips(folder, hf_model, tmp_path):
    out = tmp_path / "emb"
    result = cli(
        "embed", folder / "v3.gif", folder / "v5.webm", "-m", hf_model, "-o", out, "--pool",
        "both", "--workers", 1, "--segments", 2, "--views", 3, "--batch-size", 4, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    model = vjepa2.load(hf_model)
    spec = ClipSpec.for_model(model.config, segments=2, views=3)
    for row in records(out):
        clips = read_clips(row["path"], spec)
        with torch.no_grad():
            expected = model(clips.pixels.flatten(0, 1)).last_hidden_state
        saved = load_file(out / row["output"])
        assert saved["tokens"].shape[:2] == (2, 3)
        assert (saved["tokens"].flatten(0, 1).flatten(1, 3) - expected).abs().max() <= 1e-5
        assert saved["indices"].shape == (2, 4)
        with safe_open(out / row["output"], "pt") as f:
            assert f.metadata()["source"] == row["path"]
        assert (out / row["output"]).stat().st_mode & 0o777 == new_file_mode()  # not 0600


def test_sliding_windows_carry_their_times(folder, hf_model):
    model = vjepa2.load(hf_model)
    embedding = vjepa2.embed(folder / "v7.gif", model, stride=4)  # 27 frames at 10 fps
    assert embedding.tokens.shape[:2] == (7, 1)
    np.testing.assert_allclose(embedding.starts, np.arange(7) * 0.4)
    assert embedding.ends[0] == pytest.approx(0.4)


def test_embed_api_on_frames_and_files(folder, hf_model):
    model = vjepa2.load(hf_model)
    frames = signature_frames(4, 64, 96)
    embedding = vjepa2.embed(frames, model)
    assert embedding.tokens.shape == (2, 4, 4, 96) and embedding.pooled.shape == (96,)
    pixels = model.transform(frames)
    with torch.no_grad():
        expected = model(pixels[None]).last_hidden_state[0]
    torch.testing.assert_close(embedding.tokens.reshape(-1, 96), expected)
    assert vjepa2.embed(folder / "v0.mp4", model).tokens.shape == (2, 4, 4, 96)


@torch.no_grad()
def test_classify_equals_transformers(folder, hf_classifier):
    transformers = pytest.importorskip("transformers")
    theirs = transformers.VJEPA2ForVideoClassification.from_pretrained(hf_classifier).eval()
    ours = vjepa2.load(hf_classifier)
    spec = ClipSpec.for_model(ours.config)
    clips = read_clips(folder / "v1.webm", spec)
    pixels = clips.pixels[:, 0]
    expected = theirs(pixel_values_videos=pixels).logits
    assert (ours(pixels).logits - expected).abs().max().item() <= 1e-5
    top = vjepa2.classify(folder / "v1.webm", model=ours, top_k=3)
    probs = expected.softmax(-1)[0]
    assert [label for label, _ in top] == [ours.id2label[int(i)] for i in probs.topk(3).indices]
    assert [p for _, p in top] == pytest.approx(probs.topk(3).values.tolist(), abs=1e-6)


def test_classify_cli(folder, hf_classifier, hf_model):
    result = cli(
        "classify", folder / "v0.mp4", folder / "broken_text.mp4", "-m", hf_classifier,
        "--json", "--top-k", 2, "--workers", 0,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows[0]["top_k"]) == 2 and rows[0]["error"] is None
    assert rows[1]["error"] and not rows[1]["top_k"]
    # A wide terminal, so that rich prints the (long, temporary) path on one line.
    table = runner.invoke(app, [str(a) for a in ("classify", folder / "v0.mp4", "-m",
                          hf_classifier, "--workers", 0, "--segments", 2, "--views", 3)],
                          env={"COLUMNS": "400"})  # fmt: skip
    assert table.exit_code == 0 and "v0.mp4" in table.output
    no_head = cli("classify", folder / "v0.mp4", "-m", hf_model)
    assert no_head.exit_code == 2 and "no classifier head" in no_head.output


def test_bad_arguments_exit_2(folder, hf_model, tmp_path):
    assert cli("embed", tmp_path / "missing", "-m", hf_model, "-o", tmp_path).exit_code == 2
    assert cli("embed", folder, "-m", tmp_path / "nope", "-o", tmp_path).exit_code == 2
    assert cli("embed", folder, "-m", hf_model, "-o", tmp_path, "--pool", "max").exit_code == 2


def test_all_broken_exits_1(folder, hf_model, tmp_path):
    result = cli("embed", folder / "broken_empty.mp4", "-m", hf_model, "-o", tmp_path / "o", "-q")
    assert result.exit_code == 1


@pytest.mark.slow
def test_sigkill_midway_then_resume(tmp_path, hf_model):
    """Kill a run with SIGKILL after a few videos, run again: finished videos are not redone
    and every output file is whole."""
    videos = tmp_path / "many"
    videos.mkdir()
    for i in range(12):
        encode_video(videos / f"c{i:02d}.mp4", signature_frames(40, 64, 96, start=i), fps=10)
    out = tmp_path / "emb"
    cmd = [sys.executable, "-m", "vjepa2", "embed", str(videos), "-m", str(hf_model), "-o",
           str(out), "--workers", "0", "--batch-size", "1", "-q", "--pool", "both",
           "--segments", "4", "--views", "3"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (out / "records.jsonl").exists() and len(records(out)) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = {r["path"] for r in records(out) if r["status"] == "ok"}
    assert 3 <= len(first) < 12, "the run should be killed midway"
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = records(out)
    redone = [r["path"] for r in rows[len(first) :] if r["path"] in first]
    assert not redone
    assert {r["path"] for r in rows if r["status"] == "ok"} == {str(p) for p in videos.iterdir()}
    for row in rows:
        tensors = load_file(out / row["output"])  # a torn file would not load
        assert tensors["tokens"].shape[:2] == (4, 3)
    assert not list(out.glob(".*.tmp"))


def test_done_means_the_same_file_not_the_same_typed_path(tmp_path, hf_model, monkeypatch):
    """`cd A && embed v.mp4 -o X` then `cd B && embed v.mp4 -o X` embeds B/v.mp4 too, and a
    file changed since its embedding is embedded again."""
    out = tmp_path / "emb"
    for i, name in enumerate("AB"):
        (tmp_path / name).mkdir()
        encode_video(tmp_path / name / "v.mp4", signature_frames(6, 64, 96, start=i), fps=10)
    for name in "AB":
        monkeypatch.chdir(tmp_path / name)
        result = cli("embed", "v.mp4", "-m", hf_model, "-o", out, "--workers", 0, "-q")
        assert result.exit_code == 0 and "1 embedded, 0 failed, 0 already done" in result.output
    assert len(list(out.glob("v-*.safetensors"))) == 2
    again = cli("embed", "v.mp4", "-m", hf_model, "-o", out, "--workers", 0, "-q")
    assert "0 embedded, 0 failed, 1 already done" in again.output
    encode_video(tmp_path / "B" / "v.mp4", signature_frames(9, 64, 96, start=5), fps=10)
    changed = cli("embed", "v.mp4", "-m", hf_model, "-o", out, "--workers", 0, "-q")
    assert "1 embedded, 0 failed, 0 already done" in changed.output
    rows = records(out)
    assert {r["resolved"] for r in rows} == {str((tmp_path / n / "v.mp4").resolve()) for n in "AB"}


def test_another_model_or_setting_into_the_same_folder_is_refused(folder, hf_model, tmp_path):
    out = tmp_path / "emb"
    video = folder / "v0.mp4"
    assert cli("embed", video, "-m", hf_model, "-o", out, "--workers", 0, "-q").exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    other = tmp_path / "other"
    torch.manual_seed(1234)  # not the seed the hf_model fixture may have been drawn with
    vjepa2.save(random_model(), other)  # same architecture, other weights
    refused = cli("embed", video, "-m", other, "-o", out, "--workers", 0, "-q")
    assert refused.exit_code == 2 and "other settings (model " in refused.output
    pooled = cli("embed", video, "-m", hf_model, "-o", out, "--pool", "both", "--workers", 0)
    assert pooled.exit_code == 2 and "pool mean -> both" in pooled.output
    frames = cli("embed", video, "-m", hf_model, "-o", out, "--frames", 8, "--workers", 0)
    assert frames.exit_code == 2 and "spec " in frames.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing mixed in
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "manifest.jsonl").write_text("{}\n")
    old = cli("embed", video, "-m", hf_model, "-o", legacy, "--workers", 0, "-q")
    assert old.exit_code == 2 and "older vjepa2" in old.output


def test_odd_record_lines_are_ignored(folder, hf_model, tmp_path):
    out = tmp_path / "emb"
    assert cli("embed", folder / "v0.mp4", "-m", hf_model, "-o", out, "-q").exit_code == 0
    with open(out / "records.jsonl", "a") as f:
        f.write('{}\n[1, 2]\n{"resolved": 3}\n{"path": "torn')
    again = cli("embed", folder / "v0.mp4", "-m", hf_model, "-o", out, "-q")
    assert again.exit_code == 0 and "1 already done" in again.output


def test_a_folder_embeds_its_images_as_embed_photo_does(hf_model, tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    encode_video(media / "clip.mp4", signature_frames(6, 64, 96), fps=10)
    encode_image(media / "photo.png", signature_frames(1, 64, 96)[0])
    out = tmp_path / "emb"
    result = cli("embed", media, "-m", hf_model, "-o", out, "--workers", 0, "-q")
    assert result.exit_code == 0 and "2 embedded, 0 failed" in result.output
    single = cli("embed", media / "photo.png", "-m", hf_model, "-o", tmp_path / "one", "-q")
    assert single.exit_code == 0 and "1 embedded" in single.output
    (image_row,) = [r for r in records(out) if r["path"].endswith("photo.png")]
    assert image_row["frames"] == [0, 0, 0, 0]  # one frame as a static clip


def test_strided_windows_embedded_in_parts_equal_the_whole(folder, hf_model, tmp_path):
    model = vjepa2.load(hf_model)
    spec = ClipSpec.for_model(model.config, stride=2)
    whole = embed_video(folder / "v7.gif", model, spec)  # 27 frames: 13 windows
    embed_videos(model, [folder / "v7.gif"], tmp_path, spec, pool="both", batch_size=5,
                 workers=0, progress=False)  # fmt: skip
    (row,) = records(tmp_path)
    saved = load_file(tmp_path / row["output"])
    assert saved["pooled"].shape == (13, 1, 96) and row["clips"] == 13
    torch.testing.assert_close(saved["pooled"][:, 0], whole.pooled[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(saved["tokens"], whole.tokens, atol=1e-5, rtol=0)
    np.testing.assert_allclose(saved["starts"].numpy(), whole.starts)


@pytest.mark.parametrize("workers", [0, 1])
def test_strided_embedding_drops_the_pixels_of_finished_parts(folder, hf_model, tmp_path,
                                                              monkeypatch, workers):  # fmt: skip
    """A long strided video is embedded in parts and each part's pixels are freed once embedded,
    so memory does not grow with the video's length: at every forward at most the part being
    embedded and the one just before it are alive (holding them all would be 7 here). Peak
    resident memory against video length is measured by benchmarks/embed_memory.py."""
    import vjepa2.inference.embed as embed_module

    alive, peak, parts = set(), [], []

    def tracked(*args, **kwargs):
        for item in iterate_clips(*args, **kwargs):
            if hasattr(item, "pixels"):
                key = len(parts)
                parts.append(weakref.finalize(item.pixels, alive.discard, key))
                alive.add(key)
            yield item

    def counting_forward(*args, **kwargs):
        forward = make_forward(*args, **kwargs)

        def run(pixels):
            gc.collect()
            peak.append(len(alive))
            return forward(pixels)

        return run

    iterate_clips, make_forward = embed_module.iterate_clips, embed_module.embed_forward
    monkeypatch.setattr(embed_module, "iterate_clips", tracked)
    monkeypatch.setattr(embed_module, "embed_forward", counting_forward)
    model = vjepa2.load(hf_model)
    spec = ClipSpec.for_model(model.config, stride=2)
    embed_videos(model, [folder / "v7.gif"], tmp_path, spec, batch_size=2, workers=workers,
                 progress=False)  # fmt: skip  # 13 windows: 7 parts of <= 2
    assert len(parts) == 7 and len(peak) == 7, (len(parts), peak)
    assert max(peak) <= 2, peak
