"""The synthetic motion benchmark: determinism, balance, manifests, and that motion is real."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from vjepa2.cli.app import app
from vjepa2.data import read_labelled, read_list
from vjepa2.data.motion import (
    MOTION_CLASSES,
    TRANSLATION_CLASSES,
    MotionSettings,
    clip_rng,
    make_motion_dataset,
    render_clip,
    split_labels,
)

SMALL = MotionSettings(frames=8, size=32)


def test_render_shape_dtype_and_determinism():
    a = render_clip("rotate_cw", clip_rng(0, "train", 3))
    b = render_clip("rotate_cw", clip_rng(0, "train", 3))
    c = render_clip("rotate_cw", clip_rng(1, "train", 3))
    d = render_clip("rotate_cw", clip_rng(0, "test", 3))
    assert a.shape == (16, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, d)


def test_unknown_class_is_an_error():
    with pytest.raises(ValueError, match="unknown motion class"):
        render_clip("jump", clip_rng(0, "train", 0))


def _centre(weight: np.ndarray) -> np.ndarray:
    """(x, y) centre of mass of a [H, W] weight map."""
    ys, xs = np.mgrid[0 : weight.shape[0], 0 : weight.shape[1]]
    return np.array([(weight * xs).sum(), (weight * ys).sum()]) / weight.sum()


@pytest.mark.parametrize("label", TRANSLATION_CLASSES)
def test_translations_move_the_actor_the_right_way(label):
    """Without noise and distractors, the actor's mass moves in the named direction."""
    settings = MotionSettings(distractors=(0, 0), noise=(0.0, 0.0))
    direction = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[label[10:]]
    for index in range(5):
        frames = render_clip(label, clip_rng(0, "train", index), settings).astype(float)
        early, late = frames[:4].mean(0), frames[-4:].mean(0)
        background = np.median(frames, axis=0)
        weight_early = np.abs(early - background).sum(-1)
        weight_late = np.abs(late - background).sum(-1)
        shift = _centre(weight_late) - _centre(weight_early)
        assert np.dot(shift, direction) > 2.0, (label, index, shift)


def test_grow_and_shrink_change_the_actor_area():
    settings = MotionSettings(distractors=(0, 0), noise=(0.0, 0.0))
    for label, sign in (("grow", 1), ("shrink", -1)):
        frames = render_clip(label, clip_rng(0, "val", 1), settings).astype(float)
        background = np.median(frames, axis=0)
        area = [(np.abs(f - background).sum(-1) > 30).sum() for f in frames]
        assert sign * (area[-1] - area[0]) > 0, (label, area)


def test_split_labels_are_balanced_and_seeded():
    labels = split_labels("train", 83, MOTION_CLASSES, seed=0)
    assert len(labels) == 83
    assert sorted(labels.count(c) for c in MOTION_CLASSES) == [10] * 5 + [11] * 3
    assert labels == split_labels("train", 83, MOTION_CLASSES, seed=0)
    assert labels != split_labels("train", 83, MOTION_CLASSES, seed=1)


def test_dataset_files_manifests_and_byte_identical_regeneration(tmp_path):
    counts = {"unlabelled": 6, "train": 8, "val": 4, "test": 4}
    first = make_motion_dataset(tmp_path / "a", seed=2, classes=TRANSLATION_CLASSES,
                                counts=counts, settings=SMALL)  # fmt: skip
    second = make_motion_dataset(tmp_path / "b", seed=2, classes=TRANSLATION_CLASSES,
                                 counts=counts, settings=SMALL, workers=2)  # fmt: skip
    assert first.counts == {"unlabelled": 6, "train": 8, "val": 4, "test": 4}

    train = read_labelled(first.manifest("train"))
    assert sorted(train.id2label.values()) == sorted(TRANSLATION_CLASSES)
    assert sorted(e.label for e in train.examples) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert (first.root / "train.csv").read_text().startswith("path,label\n")
    unlabelled = read_list(first.manifest("unlabelled"))
    assert len(unlabelled) == 6 and all(p.suffix == ".mp4" and p.exists() for p in unlabelled)
    assert (first.root / "classes.txt").read_text().split() == list(TRANSLATION_CLASSES)

    for split in ("unlabelled", "train", "val", "test"):
        for path in sorted((first.root / split).iterdir()):
            twin = second.root / split / path.name
            assert path.read_bytes() == twin.read_bytes(), path

    from vjepa2.video import read_video

    frames, info = read_video(unlabelled[0])
    assert tuple(frames.shape) == (8, 32, 32, 3) and info.fps == pytest.approx(4.0)


def test_cli_writes_a_toy_set(tmp_path):
    result = CliRunner().invoke(
        app,
        ["make-motion-data", str(tmp_path), "--seed", "1", "--classes", "translate",
         "--unlabelled", "4", "--train-per-class", "1", "--val-per-class", "0",
         "--test-per-class", "1", "--frames", "4", "--size", "32"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(read_labelled(tmp_path / "train.csv")) == 4
    assert len(read_list(tmp_path / "unlabelled.txt")) == 4
    bad = CliRunner().invoke(app, ["make-motion-data", str(tmp_path), "--classes", "jump"])
    assert bad.exit_code != 0
