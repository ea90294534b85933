"""V-JEPA pretraining pieces: the loss and its target, EMA, data order, checkpoints, bad files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import tiny_config
from vjepa2.data.motion import MotionSettings, make_motion_dataset
from vjepa2.data.pretrain_clips import ClipOrder, TrainingClips, collate_clips, training_videos
from vjepa2.models import VJEPA2Model
from vjepa2.train.masks import DEFAULT_MASKS, sample_masks
from vjepa2.train.pretrain import (
    ContextPredictor,
    PretrainOptions,
    build_networks,
    checkpoint_state,
    ema_update,
    load_init,
    pretrain,
    target_features,
)
from vjepa2.train.pretrain_monitor import effective_rank, feature_std
from vjepa2.train.state import save_atomic
from vjepa2.video.transforms import TrainTransform

TINY = dict(
    hidden_size=48, num_attention_heads=3, num_hidden_layers=2,
    pred_hidden_size=24, pred_num_attention_heads=2, pred_num_hidden_layers=1,
)  # fmt: skip


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run faster on one thread, and much faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def motion_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("motion")
    make_motion_dataset(
        root, seed=3, classes=("translate_left", "translate_right"),
        counts={"unlabelled": 16, "train": 8, "val": 0, "test": 0},
        settings=MotionSettings(frames=8),
    )  # fmt: skip
    return root


def _networks(seed: int = 0):
    config = tiny_config(frames_per_clip=8)
    return config, *build_networks(config, seed)


def test_target_is_layer_normed_without_affine():
    _, _, _, target = _networks()
    with torch.no_grad():
        target.norm.weight.fill_(3.0)
        target.norm.bias.fill_(1.0)
    clips = torch.randn(2, 4, 3, 64, 64)
    h = target_features(target, clips)
    raw = target(clips)
    torch.testing.assert_close(h, F.layer_norm(raw, raw.shape[-1:], eps=1e-5))
    torch.testing.assert_close(h.mean(-1), torch.zeros(h.shape[:2]), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        h.var(-1, unbiased=False), torch.ones(h.shape[:2]), atol=1e-3, rtol=0
    )
    assert not h.requires_grad


def test_ema_update_matches_the_formula():
    _, encoder, _, target = _networks()
    with torch.no_grad():
        for p in encoder.parameters():
            p.add_(torch.randn_like(p))
    before = copy.deepcopy(target)
    ema_update(target, encoder, 0.9)
    for t, b, o in zip(target.parameters(), before.parameters(), encoder.parameters(), strict=True):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * o)
    ema_update(target, encoder, 1.0)  # momentum 1 freezes the target
    for t, b, o in zip(target.parameters(), before.parameters(), encoder.parameters(), strict=True):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * o)


def test_fresh_target_equals_context_encoder_and_has_no_grad():
    _, encoder, predictor, target = _networks()
    for t, o in zip(target.parameters(), encoder.parameters(), strict=True):
        assert torch.equal(t, o) and not t.requires_grad
    trainable = [i for i, t in enumerate(predictor.mask_tokens) if t.requires_grad]
    assert trainable == [0]  # pretraining uses mask token 0 only


def test_continued_pretraining_starts_from_all_three_networks(tmp_path):
    config, encoder, predictor, target = _networks(seed=1)
    with torch.no_grad():
        for p in target.parameters():
            p.add_(1.0)
    state = checkpoint_state(
        encoder, predictor, target, torch.optim.AdamW(encoder.parameters()), config,
        epoch=3, batch_in_epoch=0, step=30, loss=0.5, lr=1e-4, batch_size=2, world_size=1,
        opts=PretrainOptions(data="videos", out=tmp_path),
    )  # fmt: skip
    save_atomic(state, tmp_path / "run.pt")
    init, init_target = load_init(str(tmp_path / "run.pt"))
    new_encoder, new_predictor, new_target = build_networks(config, 5, init, init_target)
    for new, old in ((new_encoder, encoder), (new_predictor, predictor), (new_target, target)):
        for (name, a), b in zip(new.state_dict().items(), old.state_dict().values(), strict=True):
            assert torch.equal(a, b), name
    assert not any(p.requires_grad for p in new_target.parameters())


def test_loss_is_l1_per_mask_and_training_steps_lower_it():
    _, encoder, predictor, target = _networks()
    model = ContextPredictor(encoder, predictor)
    clips = torch.randn(4, 8, 3, 64, 64)
    grid = encoder.token_grid(clips.shape)
    masks = sample_masks(4, grid, DEFAULT_MASKS, torch.Generator().manual_seed(0))
    targets = target_features(target, clips)

    losses = model(clips, masks, targets)
    assert losses.shape == (2,)
    context_idx, target_idx = masks[0]
    predicted = predictor(encoder(clips, masks=context_idx), context_idx, target_idx, 0, grid[1:])
    wanted = torch.gather(targets, 1, target_idx[..., None].expand(-1, -1, targets.size(-1)))
    torch.testing.assert_close(losses[0], (predicted - wanted).abs().mean())

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    first = float(losses.detach().mean())
    for _ in range(5):
        loss = model(clips, masks, targets).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(model(clips, masks, targets).detach().mean()) < first


def test_collapse_monitors():
    healthy = torch.randn(64, 16)
    collapsed = torch.randn(1, 16).expand(64, 16) + 1e-4 * torch.randn(64, 16)
    two_dimensional = torch.randn(64, 2) @ torch.randn(2, 16)
    assert effective_rank(healthy) > 10
    assert effective_rank(collapsed) < 1.1
    assert 1.5 < effective_rank(two_dimensional) < 2.0 + 1e-4
    assert feature_std(healthy[None]) == pytest.approx(1.0, abs=0.2)
    assert feature_std(collapsed[None]) < 0.01


def test_clip_order_shards_are_disjoint_and_fast_forward_is_a_suffix():
    ranks = [ClipOrder(50, 4, seed=1, rank=r, world_size=3) for r in range(3)]
    assert ranks[0].steps_per_epoch == 4  # 50 // 12, the tail is dropped
    seen = [key for order in ranks for batch in order.batches(2) for key in batch]
    assert len(seen) == len(set(seen)) == 48
    assert all(epoch == 2 for epoch, _ in seen)
    assert ranks[1].batches(2, start=3) == ranks[1].batches(2)[3:]
    assert ranks[0].batches(0) != ranks[0].batches(1)  # reshuffled every epoch


def test_clips_are_deterministic_per_key_and_bad_files_are_skipped(motion_dir, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_text("not a video")
    paths = [*training_videos(motion_dir / "unlabelled.txt")[:2], bad]
    data = TrainingClips(paths, TrainTransform(crop_size=32), frames_per_clip=8)
    a, b, c = data[(0, 0)], data[(0, 0)], data[(1, 0)]
    assert a.shape == (8, 3, 32, 32)
    assert torch.equal(a, b) and not torch.equal(a, c)
    skipped = data[(0, 2)]
    assert skipped.path == str(bad) and "broken.mp4" in skipped.reason
    clips, failures = collate_clips([a, skipped])
    assert clips.shape == (1, 8, 3, 32, 32) and failures == [skipped]
    for workers in (0, 2):  # the cache decoded here, and by 2 processes
        cached = TrainingClips(paths, TrainTransform(crop_size=32), frames_per_clip=8, cache=True,
                               cache_workers=workers)  # fmt: skip
        assert torch.equal(cached[(0, 0)], a) and torch.equal(cached[(1, 0)], c)
        assert cached[(0, 2)].path == str(bad) and cached[(0, 2)].reason == skipped.reason


def test_training_sources(motion_dir):
    from_list = training_videos(motion_dir / "unlabelled.txt")
    assert len(from_list) == 16 and all(p.exists() for p in from_list)
    assert len(training_videos(motion_dir / "unlabelled")) == 16
    assert len(training_videos(motion_dir / "train.csv")) == 8


@pytest.mark.slow
def test_short_run_learns_skips_bad_files_and_writes_an_original_checkpoint(
    motion_dir, tmp_path, caplog
):
    data = tmp_path / "videos"
    data.mkdir()
    for path in training_videos(motion_dir / "unlabelled.txt"):
        (data / path.name).symlink_to(path)
    (data / "zz_broken.mp4").write_text("not a video")
    opts = PretrainOptions(
        data=str(data), out=tmp_path / "run", overrides=TINY, epochs=6, batch_size=4,
        lr=2e-3, start_lr=2e-3, warmup=0, frames=8, crop_size=64, workers=0, log_every=2,
        ema=(0.99, 1.0), probe_data=str(motion_dir / "train.csv"), probe_every=6,
    )  # fmt: skip
    with caplog.at_level("WARNING", logger="vjepa2.pretrain"):
        summary = pretrain(opts)
    assert summary["steps"] == 24  # 17 files // 4 = 4 steps per epoch
    assert any("zz_broken.mp4" in r.getMessage() for r in caplog.records)

    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert sum(losses[-4:]) < sum(losses[:4])
    assert {"loss_mask0", "loss_mask1", "lr", "ema"} <= set(records[0])
    assert any("effective_rank" in r and "target_std" in r for r in records)
    assert sum(r.get("skipped", 0) for r in records) >= 1
    assert 0.0 <= records[-1]["probe_accuracy"] <= 1.0
    assert list((tmp_path / "run" / "tb").iterdir())

    checkpoint = torch.load(tmp_path / "run" / "latest.pt", weights_only=True)
    assert {"encoder", "target_encoder", "predictor", "opt", "epoch", "step", "config"} <= set(
        checkpoint
    )
    assert checkpoint["epoch"] == 6 and checkpoint["step"] == 24
    assert all(k.startswith("module.backbone.") for k in checkpoint["encoder"])

    from vjepa2 import load

    model = load(tmp_path / "run" / "latest.pt", checkpoint_key="target_encoder")
    assert isinstance(model, VJEPA2Model) and model.config.hidden_size == 48
    state = {k.removeprefix("module.backbone."): v for k, v in checkpoint["target_encoder"].items()}
    for name, value in model.encoder.state_dict().items():
        assert torch.equal(value, state[name])


def test_cli_mask_option_reaches_the_run(motion_dir, tmp_path, monkeypatch):
    """--mask replaces the recipe's two masks (one loss per mask); a bad one is a usage error."""
    from typer.testing import CliRunner

    import vjepa2.train.pretrain as pretrain_module
    from vjepa2.cli import app
    from vjepa2.train.masks import MaskConfig

    seen = {}

    def fake_run(opts):
        seen["opts"] = opts
        return {"rank": 1}

    monkeypatch.setattr(pretrain_module, "pretrain", fake_run)
    args = ["pretrain", "--data", str(motion_dir / "unlabelled.txt"), "--out", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--mask", "1:1:0.5", "--mask", "4:0.2"])
    assert result.exit_code == 0, result.output
    assert seen["opts"].masks == (MaskConfig(1, (1.0, 1.0), (0.5, 0.5)), MaskConfig(4, (0.2, 0.2)))
    assert seen["opts"].to_json()["masks"] == ["1:1:0.5", "4:0.2"]  # options.json, checkpoint

    result = CliRunner().invoke(app, [*args, "--mask", "4"])
    assert result.exit_code == 2 and "2 to 4 fields" in result.output
