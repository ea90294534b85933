"""The paired motion variants: no motion inside a tubelet, classes that are each other's time
reversal, level 2's texture and still distractor, and the within-pair direction accuracy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vjepa2.cli.app import app
from vjepa2.data import motion, read_labelled
from vjepa2.data.motion import (
    MOTION_CLASSES,
    PAIRED_CLASSES,
    TIME_REVERSAL,
    PairedSettings,
    clip_rng,
    make_motion_dataset,
    render_paired_clip,
    reversal_partners,
    within_pair_accuracy,
)
from vjepa2.video import read_video

LEVELS = (PairedSettings(level=1), PairedSettings(level=2))
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def test_render_shape_and_determinism_from_the_seed():
    for settings in LEVELS:
        a = render_paired_clip("grow", clip_rng(0, "train", 3), settings)
        assert a.shape == (16, 64, 64, 3) and a.dtype == np.uint8
        assert np.array_equal(a, render_paired_clip("grow", clip_rng(0, "train", 3), settings))
        assert not np.array_equal(a, render_paired_clip("grow", clip_rng(1, "train", 3), settings))
        assert not np.array_equal(a, render_paired_clip("grow", clip_rng(0, "test", 3), settings))


@pytest.mark.parametrize("settings", LEVELS, ids=("level1", "level2"))
@pytest.mark.parametrize("label", MOTION_CLASSES)
def test_no_motion_inside_a_tubelet_and_motion_across_them(label, settings):
    frames = render_paired_clip(label, clip_rng(0, "val", 7), settings).astype(int)
    assert np.array_equal(frames[0::2], frames[1::2])
    assert all(np.abs(frames[k + 2] - frames[k]).sum() > 0 for k in range(0, 14, 2))


def test_other_tubelet_sizes_and_bad_settings():
    frames = render_paired_clip("shrink", clip_rng(0, "train", 0), PairedSettings(tubelet=4))
    assert all(np.array_equal(frames[k], frames[k - k % 4]) for k in range(16))
    assert not np.array_equal(frames[0], frames[4])
    with pytest.raises(ValueError, match="tubelets of 2"):
        render_paired_clip("grow", clip_rng(0, "train", 0), PairedSettings(frames=7))
    with pytest.raises(ValueError, match="level"):
        render_paired_clip("grow", clip_rng(0, "train", 0), PairedSettings(level=3))
    with pytest.raises(ValueError, match="unknown motion class"):
        render_paired_clip("jump", clip_rng(0, "train", 0))


def test_time_reversal_pairs_every_class_with_another():
    assert set(TIME_REVERSAL) == set(MOTION_CLASSES)
    for name, partner in TIME_REVERSAL.items():
        assert partner != name and TIME_REVERSAL[partner] == name  # an involution, no fixed point
    for level, classes in PAIRED_CLASSES.items():
        partners = reversal_partners(classes)
        assert [partners[i] for i in partners] == list(range(len(classes))), level
    assert len(PAIRED_CLASSES[1]) == 6 and len(PAIRED_CLASSES[2]) == 8
    assert "rotate_cw" not in PAIRED_CLASSES[1] and "rotate_cw" in PAIRED_CLASSES[2]


@pytest.mark.parametrize("settings", LEVELS, ids=("level1", "level2"))
def test_a_clip_played_backwards_is_its_partners_clip(settings):
    """Every draw is class-independent, so reversing class X's frames gives, bit for bit, the
    clip of its partner from the same generator: direction is the only difference."""
    for index in range(3):
        for label in MOTION_CLASSES:
            clip = render_paired_clip(label, clip_rng(4, "test", index), settings)
            partner = render_paired_clip(TIME_REVERSAL[label], clip_rng(4, "test", index), settings)
            assert np.array_equal(clip[::-1], partner), (label, index)


def _centre(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    """(x, y) centre of mass of where ``frame`` [H, W, 3] differs from ``background``."""
    weight = np.abs(frame.astype(float) - background).sum(-1)
    ys, xs = np.mgrid[0 : weight.shape[0], 0 : weight.shape[1]]
    return np.array([(weight * xs).sum(), (weight * ys).sum()]) / weight.sum()


@pytest.mark.parametrize("direction", ["left", "up"])
def test_partners_move_the_actor_in_opposite_directions(direction):
    """Level 1 (flat background, read off a corner): the actor's centre moves the named way
    by at least 15 px, and its partner's the opposite way."""
    label = f"translate_{direction}"
    for index in range(5):
        shifts = []
        for name in (label, TIME_REVERSAL[label]):
            frames = render_paired_clip(name, clip_rng(0, "train", index))
            background = frames[0, 0, 0].astype(float)
            shifts.append(_centre(frames[-1], background) - _centre(frames[0], background))
        assert np.dot(shifts[0], DIRECTIONS[direction]) > 15, (index, shifts)
        assert np.dot(shifts[1], DIRECTIONS[direction]) < -15, (index, shifts)
        assert np.allclose(shifts[0], -shifts[1], atol=0.5), (index, shifts)


def test_grow_and_its_partner_change_the_actor_area_oppositely():
    for index in range(3):
        areas = {}
        for name in ("grow", "shrink"):
            frames = render_paired_clip(name, clip_rng(0, "val", index)).astype(float)
            difference = np.abs(frames - frames[0, 0, 0]).sum(-1)
            areas[name] = [(d > 30).sum() for d in difference[::2]]
        assert areas["grow"][-1] > 1.5 * areas["grow"][0], areas
        assert areas["shrink"][0] > 1.5 * areas["shrink"][-1], areas


def test_level_1_is_flat_and_level_2_has_a_faint_texture_and_one_still_distractor(monkeypatch):
    shapes = []
    draw = motion._draw_shape
    monkeypatch.setattr(motion, "_draw_shape", lambda *a: shapes.append(a[4:]) or draw(*a))
    for index in range(4):
        shapes.clear()
        flat = render_paired_clip("translate_right", clip_rng(0, "train", index)).astype(float)
        assert len(shapes) == 1  # the actor alone
        still = (flat == flat[0]).all((0, 3))  # pixels no time point changes: background only
        assert still.sum() > 1000 and flat[0][still].std(0).max() == 0.0

        shapes.clear()
        settings = PairedSettings(level=2)
        frames = render_paired_clip("translate_right", clip_rng(0, "train", index), settings)
        background = motion._background(
            clip_rng(0, "train", index), 64, settings.background_contrast, settings.grain
        )  # the first draw of a level-2 clip
        assert 2 < background.std((0, 1)).max() < 60  # textured, low contrast
        assert len(shapes) == 2
        distractor, actor = ([np.ptp(path) for path in shape] for shape in shapes)
        assert max(distractor) == 0.0 and max(actor) > 15  # still, then the moving actor
        still = (frames == frames[0]).all((0, 3))
        off_background = np.abs(frames[0].astype(float) - background).sum(-1) > 30
        assert (still & off_background).sum() > 20  # the distractor shows and stays put


def test_within_pair_accuracy_from_logits():
    classes = PAIRED_CLASSES[1]  # left, right, up, down, grow, shrink
    labels = torch.tensor([0, 1, 2, 5])
    logits = torch.zeros(4, 6)
    logits[[0, 1, 2, 3], [0, 1, 2, 5]] = 1.0  # right everywhere
    assert within_pair_accuracy(logits, labels, classes) == 1.0
    logits[0, 1] = 2.0  # clip 0: its partner wins
    logits[1, 4] = 5.0  # clip 1: a class outside the pair wins, the direction is still right
    logits[2, 3] = 1.0  # clip 2: a tie with the partner counts half
    assert within_pair_accuracy(logits, labels, classes) == pytest.approx(2.5 / 4)
    assert within_pair_accuracy(logits.numpy().tolist(), labels.tolist(), classes) == 2.5 / 4

    rng = np.random.default_rng(0)  # a direction-blind scorer sits at chance
    blind = rng.standard_normal((4000, 6))
    assert within_pair_accuracy(blind, rng.integers(0, 6, 4000), classes) == pytest.approx(
        0.5, abs=0.03
    )


def test_within_pair_accuracy_from_predicted_classes():
    classes = ("grow", "translate_left", "shrink", "translate_right")  # any order
    labels = np.array([0, 0, 1, 1, 3, 2])
    predictions = np.array([0, 2, 3, 0, 3, 1])  # right, partner, partner, other pair, right, other
    assert within_pair_accuracy(predictions, labels, classes) == pytest.approx(2 / 4)
    assert math.isnan(within_pair_accuracy(np.array([1]), np.array([0]), classes))
    with pytest.raises(ValueError, match="time reversal"):
        within_pair_accuracy(predictions, labels, ("grow", "shrink", "translate_left"))


def test_dataset_is_byte_identical_lossless_and_tubelet_aligned(tmp_path):
    settings = PairedSettings(level=2, frames=8, size=32)
    counts = {"unlabelled": 2, "train": 6, "val": 0, "test": 2}
    classes = PAIRED_CLASSES[1]
    first = make_motion_dataset(tmp_path / "a", seed=3, classes=classes, counts=counts,
                                settings=settings, variant="paired2")  # fmt: skip
    second = make_motion_dataset(tmp_path / "b", seed=3, classes=classes, counts=counts,
                                 settings=settings, workers=2)  # fmt: skip
    for split in ("unlabelled", "train", "test"):
        for path in sorted((first.root / split).iterdir()):
            assert path.read_bytes() == (second.root / split / path.name).read_bytes(), path
    meta = json.loads((first.root / "motion.json").read_text())
    assert meta["variant"] == "paired2" and meta["settings"]["level"] == 2
    for example in read_labelled(first.manifest("train")).examples:
        frames, _ = read_video(example.path)
        frames = np.asarray(frames)
        assert frames.shape == (8, 32, 32, 3)
        assert np.array_equal(frames[0::2], frames[1::2]), example.path  # survives the codec


def test_cli_paired_variants(tmp_path):
    runner = CliRunner()
    args = ["make-motion-data", str(tmp_path), "--seed", "1", "--unlabelled", "0",
            "--train-per-class", "1", "--val-per-class", "0", "--test-per-class", "0",
            "--frames", "4", "--size", "32"]  # fmt: skip
    result = runner.invoke(app, [*args, "--variant", "paired1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "classes.txt").read_text().split() == list(PAIRED_CLASSES[1])
    meta = json.loads((tmp_path / "motion.json").read_text())
    assert meta["variant"] == "paired1" and meta["settings"]["level"] == 1
    result = runner.invoke(app, [*args, "--variant", "paired2"])
    assert result.exit_code == 0, result.output
    assert len(read_labelled(tmp_path / "train.csv")) == 8
    for bad in (["--classes", "grow,translate_left"], ["--frames", "5"]):
        result = runner.invoke(app, [*args, "--variant", "paired1", *bad])
        assert result.exit_code == 2, result.output
    assert runner.invoke(app, [*args, "--variant", "paired"]).exit_code == 2


def test_cli_hold_1_draws_smooth_paired_clips(tmp_path):
    runner = CliRunner()
    args = ["make-motion-data", str(tmp_path), "--variant", "paired1", "--unlabelled", "2",
            "--train-per-class", "0", "--val-per-class", "0", "--test-per-class", "0",
            "--frames", "6", "--size", "32"]  # fmt: skip
    result = runner.invoke(app, [*args, "--hold", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "motion.json").read_text())["settings"]["tubelet"] == 1
    frames, _ = read_video(tmp_path / "unlabelled" / "000000.mp4")
    frames = np.asarray(frames).astype(int)
    assert frames.shape == (6, 32, 32, 3)
    assert all(np.abs(frames[i + 1] - frames[i]).sum() > 0 for i in range(5))  # every frame moves
    for bad in (["--hold", "4"], ["--hold", "0"]):  # 6 frames are not 2+ points of 4; hold >= 1
        assert runner.invoke(app, [*args, *bad]).exit_code == 2
    demo = ["make-motion-data", str(tmp_path / "d"), "--variant", "demo", "--hold", "1"]
    assert runner.invoke(app, demo).exit_code == 2
