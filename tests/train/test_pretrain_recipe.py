"""The small-run recipe: schedules over 1.25x the steps (lr cosine, EMA ramp or constant),
gradient clipping off by default and its bind counter when on, the tiny predictor."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import vjepa2.train.pretrain as pretrain_module
from vjepa2.cli import app
from vjepa2.data.motion import MotionSettings, make_motion_dataset
from vjepa2.errors import UsageError
from vjepa2.models.encoder import gather_tokens
from vjepa2.train.masks import MaskConfig
from vjepa2.train.pretrain import (
    ContextPredictor,
    PretrainOptions,
    build_networks,
    clip_gradients,
    ema_momentum,
    last_time_step,
    learning_rate,
    model_config,
    motion_change,
    optimizer_groups,
    predict_per_cell,
    pretrain,
)
from vjepa2.weights.keymaps import strip_wrappers

TINY = dict(hidden_size=48, num_attention_heads=3, num_hidden_layers=2)
TINY_PREDICTOR = dict(pred_hidden_size=24, pred_num_attention_heads=2, pred_num_hidden_layers=1)


def _options(**changes) -> PretrainOptions:
    return PretrainOptions(data="videos", out=Path("run"), **changes)


def test_recipe_defaults():
    opts = _options()
    assert opts.clip_grad is None
    assert (opts.ema_schedule, opts.schedule_scale, opts.predictor) == ("ramp", 1.25, "config")


def test_cosine_lr_spans_schedule_scale_times_the_steps():
    # 4 epochs of 10 steps: warmup 10 steps, cosine horizon 1.25 x 40 = 50 steps.
    opts = _options(epochs=4, lr=1.0, start_lr=0.2, final_lr=0.0, warmup=1.0)
    lr = [learning_rate(opts, step, 10) for step in (0, 5, 10, 30, 40, 50, 60)]
    end = 0.5 * (1 + math.cos(math.pi * 30 / 40))  # the last step is 3/4 of the way down
    assert lr == pytest.approx([0.2, 0.6, 1.0, 0.5, end, 0.0, 0.0])
    assert end == pytest.approx(0.1464, abs=1e-4)
    old = _options(epochs=4, lr=1.0, start_lr=0.2, final_lr=0.0, warmup=1.0, schedule_scale=1.0)
    assert [learning_rate(old, s, 10) for s in (25, 40)] == pytest.approx([0.5, 0.0])
    constant = _options(epochs=4, lr=1.0, start_lr=0.2, warmup=1.0)  # no --final-lr
    assert [learning_rate(constant, s, 10) for s in (10, 40)] == pytest.approx([1.0, 1.0])


def test_ema_ramps_over_schedule_scale_times_the_steps_or_stays_constant():
    opts = _options(epochs=4, ema=(0.99, 1.0))  # 40 steps, ramp over 50
    momenta = [ema_momentum(opts, step, 10) for step in (0, 25, 40, 50, 60)]
    assert momenta == pytest.approx([0.99, 0.995, 0.998, 1.0, 1.0])
    old = _options(epochs=4, ema=(0.99, 1.0), schedule_scale=1.0)  # the earlier behaviour
    assert [ema_momentum(old, s, 10) for s in (20, 40)] == pytest.approx([0.995, 1.0])
    constant = _options(epochs=4, ema=(0.99, 1.0), ema_schedule="constant")
    assert {ema_momentum(constant, s, 10) for s in (0, 20, 40)} == {0.99}


def test_clip_gradients_off_by_default_and_reports_when_it_binds():
    layer = torch.nn.Linear(3, 2)
    layer(torch.ones(4, 3)).square().sum().backward()
    params = list(layer.parameters())
    before = [p.grad.clone() for p in params]
    norm = float(torch.cat([g.flatten() for g in before]).norm())
    for off in (None, 0.0):
        assert clip_gradients(params, off) == (pytest.approx(norm), False)
        assert all(torch.equal(p.grad, g) for p, g in zip(params, before, strict=True))
    assert clip_gradients(params, 2 * norm) == (pytest.approx(norm), False)
    assert all(torch.equal(p.grad, g) for p, g in zip(params, before, strict=True))
    assert clip_gradients(params, norm / 4) == (pytest.approx(norm), True)
    clipped = float(torch.cat([p.grad.flatten() for p in params]).norm())
    assert clipped == pytest.approx(norm / 4, rel=1e-4)


def test_tiny_predictor_shortcut_and_the_set_overrides_it_stands_for():
    tiny = model_config(_options(predictor="tiny", overrides=dict(TINY), crop_size=32, frames=8))
    assert (tiny.pred_num_hidden_layers, tiny.pred_hidden_size) == (1, 64)
    assert tiny.pred_num_attention_heads == 4
    spelled = dict(TINY, pred_num_hidden_layers=1, pred_hidden_size=64, pred_num_attention_heads=4)
    assert model_config(_options(overrides=spelled, crop_size=32, frames=8)) == tiny
    wider = model_config(_options(predictor="tiny", overrides={"pred_hidden_size": 96}))
    assert (wider.pred_hidden_size, wider.pred_num_hidden_layers) == (96, 1)  # --set wins

    encoder, predictor, _ = build_networks(tiny, seed=0)
    clips = torch.randn(2, 8, 3, 32, 32)
    _, hp, wp = encoder.token_grid(clips.shape)
    context, target = torch.arange(8).expand(2, 8), torch.arange(8, 32).expand(2, 24)
    out = predictor(encoder(clips, masks=context), context, target, 0, (hp, wp))
    assert out.shape == (2, 24, 48) and torch.isfinite(out).all()


def test_cli_recipe_options_reach_the_run(tmp_path, monkeypatch):
    seen = {}

    def fake_run(opts: PretrainOptions) -> dict:
        seen["opts"] = opts
        return {"rank": 1}

    monkeypatch.setattr(pretrain_module, "pretrain", fake_run)
    args = ["pretrain", "--data", str(tmp_path), "--out", str(tmp_path / "run")]
    extra = ["--predictor", "tiny", "--ema-schedule", "constant", "--schedule-scale", "1",
             "--clip-grad", "0", "--pred-context", "last", "--pred-lr-scale", "3",
             "--mask", "1:1:0.5:end", "--pred-first", "7", "--motion-weight", "2.5"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    opts = seen["opts"]
    assert (opts.predictor, opts.ema_schedule, opts.schedule_scale) == ("tiny", "constant", 1.0)
    assert (opts.clip_grad, opts.pred_context, opts.pred_lr_scale) == (0, "last", 3.0)
    assert [m.spec() for m in opts.masks] == ["1:1:0.5:end"] and opts.pred_first == 7
    assert opts.motion_weight == 2.5
    result = CliRunner().invoke(app, [*args])
    assert result.exit_code == 0 and seen["opts"].clip_grad is None
    assert seen["opts"].motion_weight == 0
    bad_options = (
        ["--predictor", "huge"],
        ["--ema-schedule", "cosine"],
        ["--schedule-scale", "0"],
        ["--pred-context", "first"],
        ["--pred-lr-scale", "0"],
        ["--pred-first", "-1"],
        ["--motion-weight", "-1"],
    )
    bad_options += (["--pred-context", "last"], ["--pred-context", "both"])  # default masks
    for bad in bad_options:
        assert CliRunner().invoke(app, [*args, *bad]).exit_code == 2, bad


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("motion")
    make_motion_dataset(root, seed=2, counts={"unlabelled": 8},
                        settings=MotionSettings(frames=8, size=32))  # fmt: skip
    return root / "unlabelled.txt"


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("clip_grad", [None, 1e-3])
def test_metrics_say_when_clipping_binds(unlabelled, tmp_path, clip_grad):
    torch.set_num_threads(1)
    opts = PretrainOptions(
        data=str(unlabelled), out=tmp_path / "run", overrides=dict(TINY, **TINY_PREDICTOR),
        epochs=1, batch_size=4, frames=8, crop_size=32, workers=0, clip_grad=clip_grad,
        device="cpu",
    )  # fmt: skip
    summary = pretrain(opts)
    records = [r for r in _metrics(tmp_path / "run") if "loss" in r]
    assert len(records) == 2 and all(r["grad_norm"] > 0 for r in records)
    if clip_grad is None:
        assert not any("clipped" in r for r in records) and summary["clipped_steps"] == 0
    else:  # a limit far below the gradient norm binds at every step
        assert [r["clipped"] for r in records] == [1, 1] and summary["clipped_steps"] == 2


def test_pred_lr_scale_gives_the_predictor_its_own_rate(unlabelled, tmp_path):
    torch.set_num_threads(1)
    encoder, predictor, _ = build_networks(model_config(_options(overrides=TINY)), 0)
    assert len(optimizer_groups(encoder, predictor, _options())) == 2  # as runs made before
    groups = optimizer_groups(encoder, predictor, _options(pred_lr_scale=4.0))
    in_predictor = {id(p) for p in predictor.parameters()}
    assert [g["lr_scale"] for g in groups] == [1.0, 1.0, 4.0, 4.0]
    assert [all(id(p) in in_predictor for p in g["params"]) for g in groups] == [0, 0, 1, 1]
    n_params = sum(p.numel() for g in groups for p in g["params"])
    assert n_params == sum(
        p.numel() for m in (encoder, predictor) for p in m.parameters() if p.requires_grad
    )
    opts = PretrainOptions(
        data=str(unlabelled), out=tmp_path / "run", overrides=dict(TINY, **TINY_PREDICTOR),
        epochs=1, batch_size=4, frames=8, crop_size=32, workers=0, device="cpu",
        pred_lr_scale=4.0, lr=1e-3, start_lr=1e-3, pred_context="last",
        masks=(MaskConfig.parse("1:1:0.5:end"),),
    )  # fmt: skip
    summary = pretrain(opts)
    assert summary["steps"] == 2 and math.isfinite(summary["loss"])
    saved = torch.load(tmp_path / "run" / "latest.pt", weights_only=True)["opt"]["param_groups"]
    assert [g["lr"] for g in saved] == pytest.approx([1e-3, 1e-3, 4e-3, 4e-3])


def test_last_time_step_keeps_each_clips_last_context_step_in_order():
    cells = 4  # 2 x 2 cells per time step
    context_idx = torch.tensor([[0, 1, 2, 3, 4, 5, 10, 11], [1, 2, 5, 6, 9, 10, 13, 14]])
    context = context_idx[..., None].float().expand(-1, -1, 3) * 10
    tokens, kept = last_time_step(context, context_idx, cells)
    assert kept.tolist() == [[10, 11], [13, 14]]  # clip 0 ends at step 2, clip 1 at step 3
    assert torch.equal(tokens, kept[..., None].float().expand(-1, -1, 3) * 10)
    unequal = torch.tensor([[0, 1, 2, 3, 4, 5, 10, 11], [1, 2, 5, 6, 9, 12, 13, 14]])
    with pytest.raises(ValueError, match=r"1:1:0\.5:end"):  # 2 tokens at the end of 0, 3 of 1
        last_time_step(context, unequal, cells)


def _tiny_networks() -> tuple:
    """A seeded tiny encoder and predictor, and clips ``[2, 8, 3, 32, 32]``: 4 time steps of
    2 x 2 cells."""
    torch.manual_seed(0)
    encoder, predictor, _ = build_networks(
        model_config(_options(overrides=dict(TINY, **TINY_PREDICTOR))), 0
    )
    return encoder, predictor, torch.randn(2, 8, 3, 32, 32)


def test_pred_context_last_feeds_the_predictor_the_last_step_only_and_both_averages():
    encoder, predictor, clips = _tiny_networks()
    context_idx = torch.arange(8).expand(2, -1)  # time steps 0 and 1
    target_idx = torch.arange(8, 16).expand(2, -1)
    targets = torch.randn(2, 16, 48)
    with torch.no_grad():
        loss = ContextPredictor(encoder, predictor, "last")(clips, [(context_idx, target_idx)],
                                                           targets)  # fmt: skip
        full = ContextPredictor(encoder, predictor)(clips, [(context_idx, target_idx)], targets)
        context = encoder(clips, masks=context_idx)[:, 4:]  # the encoder saw both steps
        predicted = predictor(context, context_idx[:, 4:], target_idx, mask_index=0,
                              grid_hw=(2, 2))  # fmt: skip
    expected = (predicted - targets[:, 8:]).abs().mean()
    torch.testing.assert_close(loss, expected[None])
    assert (loss - full).abs().item() > 1e-4
    with torch.no_grad():  # both: the predictor on each context, the two losses averaged
        both = ContextPredictor(encoder, predictor, "both")(clips, [(context_idx, target_idx)],
                                                           targets)  # fmt: skip
    torch.testing.assert_close(both, (loss + full) / 2)


def test_pred_context_cell_runs_the_predictor_on_each_cells_last_token_alone():
    encoder, predictor, clips = _tiny_networks()
    context_idx = torch.tensor([[0, 1, 2, 3, 7, 4, 6, 5], [3, 2, 1, 0, 4, 5, 6, 7]])
    target_idx = torch.tensor([[8, 13, 9, 12, 10, 15, 11, 14], [15, 14, 13, 12, 11, 10, 9, 8]])
    targets = torch.randn(2, 16, 48)
    with torch.no_grad():
        loss = ContextPredictor(encoder, predictor, "cell")(clips, [(context_idx, target_idx)],
                                                           targets)  # fmt: skip
        context = encoder(clips, masks=context_idx)
        expected = torch.zeros(2, 8, 48)
        for b in range(2):  # each cell: its step-1 token alone predicts its steps 2 and 3
            for slot, flat in enumerate(target_idx[b].tolist()):
                source = (context_idx[b] == 4 + flat % 4).nonzero().item()
                one = predictor(context[b : b + 1, source : source + 1], context_idx[b : b + 1,
                                source : source + 1], torch.tensor([[flat % 4 + 8, flat % 4 + 12]]),
                                mask_index=0, grid_hw=(2, 2))  # fmt: skip
                expected[b, slot] = one[0, flat // 4 - 2]
    want = (expected - gather_tokens(targets, target_idx)).abs().mean()
    torch.testing.assert_close(loss, want[None])
    with pytest.raises(ValueError, match="all 4 cells"):  # cell 3 not seen at the last step
        predict_per_cell(predictor, context[:, :7], context_idx[:, :7], target_idx, (2, 2))
    with pytest.raises(ValueError, match="every cell"):  # cell 0 twice, cell 1 never
        predict_per_cell(predictor, context, context_idx, target_idx.clamp(max=12) // 4 * 4,
                         (2, 2))  # fmt: skip


def test_motion_change_scores_each_token_against_its_cells_mean_over_time():
    targets = torch.zeros(2, 3 * 4, 5)  # 3 time steps of 4 cells
    targets[0, 4 + 1] = 3.0  # clip 0: cell 1 changes at step 1 (mean over time 1, |3 - 1| = 2)
    targets[1] = torch.randn(4, 5).repeat(3, 1)  # clip 1: nothing changes
    change = motion_change(targets, cells=4)
    raw = torch.zeros(12)
    raw[[1, 5, 9]] = torch.tensor([1.0, 2.0, 1.0])
    torch.testing.assert_close(change[0], raw / raw.mean())
    assert change[0].mean().item() == pytest.approx(1.0)
    assert change[1].abs().max().item() < 1e-3  # static clip: rounding noise stays near 0


def test_motion_weight_puts_the_loss_where_the_targets_change():
    encoder, predictor, clips = _tiny_networks()
    context_idx = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 8, 9, 10, 11]])
    target_idx = torch.tensor([[8, 9, 10, 11, 12, 13, 14, 15], [4, 5, 6, 7, 12, 13, 14, 15]])
    targets = torch.randn(2, 16, 48)
    masks = [(context_idx, target_idx)]
    with torch.no_grad():
        plain = ContextPredictor(encoder, predictor)(clips, masks, targets)
        zero = ContextPredictor(encoder, predictor, motion_weight=0.0)(clips, masks, targets)
        weighted = ContextPredictor(encoder, predictor, motion_weight=3.0)(clips, masks, targets)
        context = encoder(clips, masks=context_idx)
        predicted = predictor(context, context_idx, target_idx, mask_index=0, grid_hw=(2, 2))
    assert torch.equal(plain, zero)
    grid = targets.view(2, 4, 4, 48)
    change = (grid - grid.mean(dim=1, keepdim=True)).abs().mean(-1).reshape(2, 16)
    change = change / change.mean(dim=1, keepdim=True)
    weights = 1 + 3.0 * torch.gather(change, 1, target_idx)
    weights = weights / weights.mean(dim=1, keepdim=True)
    error = (predicted - gather_tokens(targets, target_idx)).abs().mean(-1)
    torch.testing.assert_close(plain, error.mean()[None])
    torch.testing.assert_close(weighted, (error * weights).mean()[None])
    assert (weighted - plain).abs().item() > 1e-4


def test_pred_first_schedules_start_after_the_predictor_alone():
    # 4 epochs of 10 steps, 10 of them the predictor's alone: the warmup (10 steps) starts at
    # step 10 and the cosine and EMA ramp span the 1.25 x 40 - 10 = 40 steps after it.
    opts = _options(epochs=4, lr=1.0, start_lr=0.2, final_lr=0.0, warmup=1.0, pred_first=10,
                    ema=(0.99, 1.0))  # fmt: skip
    lr = [learning_rate(opts, step, 10) for step in (0, 9, 10, 15, 20, 35, 50, 60)]
    assert lr == pytest.approx([1.0, 1.0, 0.2, 0.6, 1.0, 0.5, 0.0, 0.0])
    momenta = [ema_momentum(opts, step, 10) for step in (0, 10, 30, 50, 60)]
    assert momenta == pytest.approx([0.99, 0.99, 0.995, 1.0, 1.0])
    encoder, predictor, _ = build_networks(model_config(_options(overrides=TINY)), 0)
    groups = optimizer_groups(encoder, predictor, _options(pred_first=3))  # split at scale 1
    assert [g["lr_scale"] for g in groups] == [1.0, 1.0, 1.0, 1.0]


def test_pred_first_holds_encoder_and_target_still_then_trains_both(unlabelled, tmp_path):
    torch.set_num_threads(1)
    run = tmp_path / "run"
    options = dict(
        data=str(unlabelled), out=run, overrides=dict(TINY, **TINY_PREDICTOR), epochs=2,
        batch_size=4, frames=8, crop_size=32, workers=0, device="cpu", lr=1e-3, start_lr=1e-4,
        pred_first=2, pred_lr_scale=2.0,
    )  # fmt: skip
    pretrain(PretrainOptions(**options, max_steps=2))  # the 2 predictor-alone steps of 4
    first = _networks(run / "latest.pt")
    config = model_config(PretrainOptions(**options))
    encoder, predictor, _ = build_networks(config, 0)  # the run's init (seed 0)
    for key, value in encoder.state_dict().items():
        assert torch.equal(first["encoder"][key], value), key
        assert torch.equal(first["target_encoder"][key], value), key
    changed = [
        k for k, v in predictor.state_dict().items() if not torch.equal(first["predictor"][k], v)
    ]
    assert changed  # the predictor learned
    opt = torch.load(run / "latest.pt", weights_only=True)["opt"]
    encoder_ids = opt["param_groups"][0]["params"] + opt["param_groups"][1]["params"]
    assert not any(i in opt["state"] for i in encoder_ids)  # no AdamW moments for the encoder
    assert [g["lr"] for g in opt["param_groups"]] == pytest.approx([1e-3, 1e-3, 2e-3, 2e-3])
    records = [r for r in _metrics(run) if "loss" in r]
    assert [r["lr"] for r in records] == pytest.approx([1e-3, 1e-3])

    resumed = PretrainOptions(**options, resume=True, allow_change=("max_steps",))
    pretrain(resumed)  # the 2 joint steps: warmup from start_lr
    last = _networks(run / "latest.pt")
    assert torch.load(run / "latest.pt", weights_only=True)["step"] == 4
    assert not torch.equal(last["encoder"]["patch_embed.proj.weight"],
                           first["encoder"]["patch_embed.proj.weight"])  # fmt: skip
    assert any(not torch.equal(last["target_encoder"][k], v)
               for k, v in first["target_encoder"].items())  # fmt: skip
    assert [r["lr"] for r in _metrics(run) if "loss" in r][2] == pytest.approx(1e-4)

    with pytest.raises(UsageError, match="--pred-first 4: the run has only 4 steps"):
        pretrain(PretrainOptions(**{**options, "pred_first": 4, "out": tmp_path / "other"}))


def _networks(path: Path) -> dict[str, dict[str, torch.Tensor]]:
    """A checkpoint's three networks, their keys as our modules name them."""
    checkpoint = torch.load(path, weights_only=True)
    return {name: strip_wrappers(checkpoint[name])
            for name in ("encoder", "target_encoder", "predictor")}  # fmt: skip
