"""A synthetic motion benchmark: textured shapes whose motion class takes time to tell apart.

Each clip (16 frames of 64 × 64 by default) shows one *actor* shape moving in one of eight ways
(translate left/right/up/down, rotate clockwise/anticlockwise, grow, shrink) over a random
textured background, with 1–3 *distractor* shapes that either stay still or wobble back and forth
around a fixed point, and per-frame pixel noise. The actor's mid-clip position, size and
orientation are drawn independently of its class, and the distractors look like actors, so a
single frame says little about the class: only the change over time does.

The *paired* variants (`PairedSettings`, `render_paired_clip`) close the shortcut the full one
leaves to a V-JEPA 2 encoder: each time point is shown for exactly one tubelet (2 frames), so no
token holds motion, and the classes come in time-reversal pairs (left/right, up/down, grow/shrink,
clockwise/anticlockwise) whose clips are each other played backwards. An unordered set of tokens
then says nothing about the direction within a pair; `within_pair_accuracy` scores exactly that
(chance 0.5). Level 1 draws one actor over a flat background, level 2 adds a low-contrast static
texture and one still distractor.

Everything is drawn with vectorised numpy from ``numpy.random.default_rng((seed, split, index))``,
so a clip depends only on the seed, its split, its index and its class; the classes of a split
are a seeded shuffle of a balanced list of the split's size (`split_labels`). A split of the same
size therefore gets the same clips, whatever the other splits or the number of worker processes.
Frames are uint8 ``[T, H, W, 3]``; `make_motion_dataset` writes them as H.264 .mp4 files plus
manifests that `vjepa2.data.read_labelled` / `read_list` read:

    OUT_DIR/unlabelled/000000.mp4 ...   unlabelled.txt  (one path per line, for pretraining)
    OUT_DIR/train/000000.mp4 ...        train.csv       (path,label with class names)
    OUT_DIR/val/...                     val.csv
    OUT_DIR/test/...                    test.csv
    OUT_DIR/classes.txt                 (class names in label order)   motion.json (settings)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vjepa2.files import atomic_write
from vjepa2.video.writer import encode_video

MOTION_CLASSES: tuple[str, ...] = (
    "translate_left",
    "translate_right",
    "translate_up",
    "translate_down",
    "rotate_cw",
    "rotate_ccw",
    "grow",
    "shrink",
)
TRANSLATION_CLASSES: tuple[str, ...] = MOTION_CLASSES[:4]
SPLITS: tuple[str, ...] = ("unlabelled", "train", "val", "test")
SHAPES: tuple[str, ...] = ("rectangle", "triangle", "ellipse", "cross", "ell")


@dataclass(frozen=True)
class MotionSettings:
    """How clips are drawn. Distances are in pixels, angles in degrees, speeds per frame."""

    frames: int = 16
    size: int = 64
    actor_size: tuple[float, float] = (8.0, 13.0)  # half-extent
    speed: tuple[float, float] = (1.0, 2.2)  # translation
    spin: tuple[float, float] = (7.0, 16.0)  # rotation
    growth: tuple[float, float] = (1.8, 2.6)  # last/first size ratio of grow (inverse: shrink)
    distractors: tuple[int, int] = (1, 3)
    distractor_size: tuple[float, float] = (5.0, 11.0)
    wobble: tuple[float, float] = (1.5, 3.0)  # amplitude of a wobbling distractor
    noise: tuple[float, float] = (0.0, 8.0)  # per-frame Gaussian pixel noise std (0..255 scale)
    background_contrast: tuple[float, float] = (0.3, 1.0)  # texture amplitude around its mean
    grain: tuple[float, float] = (0.0, 12.0)  # static background noise std


def clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator that draws clip ``index`` of ``split``."""
    return np.random.default_rng((seed, SPLITS.index(split), index))


def render_clip(
    label: str, rng: np.random.Generator, settings: MotionSettings = MotionSettings()
) -> np.ndarray:
    """One clip of the motion class ``label``: uint8 ``[T, H, W, 3]``."""
    if label not in MOTION_CLASSES:
        raise ValueError(f"unknown motion class {label!r}; known: {', '.join(MOTION_CLASSES)}")
    s = settings
    t = np.arange(s.frames, dtype=np.float32)
    ys, xs = np.mgrid[0 : s.size, 0 : s.size].astype(np.float32) + 0.5
    background = _background(rng, s.size, s.background_contrast, s.grain)
    frames = np.broadcast_to(background, (s.frames, s.size, s.size, 3)).copy()

    for _ in range(rng.integers(s.distractors[0], s.distractors[1] + 1)):
        cx, cy = rng.uniform(8, s.size - 8, size=2)
        path_x, path_y = np.full_like(t, cx), np.full_like(t, cy)
        if rng.random() < 0.5:
            amplitude = rng.uniform(*s.wobble)
            period = rng.uniform(4.0, 8.0)
            direction = rng.uniform(0, 2 * np.pi)
            swing = amplitude * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
            path_x, path_y = cx + swing * np.cos(direction), cy + swing * np.sin(direction)
        angle = np.full_like(t, rng.uniform(0, 360))
        half = np.full_like(t, rng.uniform(*s.distractor_size))
        _draw_shape(frames, xs, ys, rng, path_x, path_y, angle, half)

    path_x, path_y, angle, half = _actor_motion(label, rng, t, s)
    _draw_shape(frames, xs, ys, rng, path_x, path_y, angle, half)

    frames += np.float32(rng.uniform(*s.noise)) * rng.standard_normal(frames.shape, np.float32)
    return np.clip(frames, 0, 255).round().astype(np.uint8)


def _actor_motion(
    label: str, rng: np.random.Generator, t: np.ndarray, s: MotionSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame centre x, y, angle and half-extent ``[T]`` each; time runs from -0.5 to 0.5
    around the middle frame, so mid-clip values do not depend on the class."""
    tau = t / (len(t) - 1) - 0.5
    mid = s.size / 2
    cx, cy = rng.uniform(mid - 12, mid + 12, size=2)
    angle = np.full_like(t, rng.uniform(0, 360))
    half = np.full_like(t, rng.uniform(*s.actor_size))
    path_x, path_y = np.full_like(t, cx), np.full_like(t, cy)
    if label.startswith("translate"):
        travel = rng.uniform(*s.speed) * (len(t) - 1) * tau
        dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[label[10:]]
        path_x, path_y = cx + dx * travel, cy + dy * travel
    elif label.startswith("rotate"):
        # Image y points down, so a growing angle turns the shape clockwise on screen.
        spin = rng.uniform(*s.spin) * (len(t) - 1) * tau
        angle = angle + (spin if label == "rotate_cw" else -spin)
    else:
        ratio = rng.uniform(*s.growth) ** (tau if label == "grow" else -tau)
        half = rng.uniform(0.8 * s.actor_size[0], 0.85 * s.actor_size[1]) * ratio
    return path_x, path_y, angle, half.astype(np.float32)


def _draw_shape(
    frames: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    rng: np.random.Generator,
    cx: np.ndarray,
    cy: np.ndarray,
    angle: np.ndarray,
    half: np.ndarray,
) -> None:
    """Composite one textured shape into ``frames`` [T, H, W, 3] (float32, in place), with a
    one-pixel anti-aliased edge. The texture lives in the shape's own coordinates, so it turns
    and scales with it."""
    size = frames.shape[1]
    reach = 1.5 * half + 1  # the shapes fit in a circle of radius sqrt(2) local units
    top, bottom = _span(cy - reach, cy + reach, size)
    left, right = _span(cx - reach, cx + reach, size)
    if top >= bottom or left >= right:
        return
    xs, ys = xs[top:bottom, left:right], ys[top:bottom, left:right]
    theta = np.deg2rad(angle).astype(np.float32)[:, None, None]
    scale = half.astype(np.float32)[:, None, None]
    dx = xs[None] - cx.astype(np.float32)[:, None, None]
    dy = ys[None] - cy.astype(np.float32)[:, None, None]
    u = (dx * np.cos(theta) + dy * np.sin(theta)) / scale  # local coordinates [T, h, w]
    v = (-dx * np.sin(theta) + dy * np.cos(theta)) / scale
    distance = _shape_distance(SHAPES[rng.integers(len(SHAPES))], u, v, rng) * scale
    alpha = np.clip(0.5 - distance, 0.0, 1.0)[..., None]

    colours = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    frequency, phase = np.float32(rng.uniform(2.0, 5.0)), np.float32(rng.uniform(0, 2 * np.pi))
    if rng.random() < 0.5:
        pattern = 0.5 + 0.5 * np.sin(frequency * u + phase)
    else:
        pattern = 0.5 + 0.5 * np.sin(frequency * u + phase) * np.sin(frequency * v)
    texture = colours[1] + (colours[0] - colours[1]) * pattern[..., None]
    region = frames[:, top:bottom, left:right]
    region += alpha * (texture - region)


def _span(low: np.ndarray, high: np.ndarray, size: int) -> tuple[int, int]:
    """Pixel range [start, stop) covering ``low.min() .. high.max()``, clipped to the frame."""
    return max(0, int(np.floor(low.min()))), min(size, int(np.ceil(high.max())) + 1)


def _shape_distance(kind: str, u: np.ndarray, v: np.ndarray, rng: np.random.Generator):
    """Approximate signed distance (negative inside) in local units; shapes span about ±1."""

    def box(cu: float, cv: float, hu: float, hv: float) -> np.ndarray:
        return np.maximum(np.abs(u - cu) - hu, np.abs(v - cv) - hv)

    if kind == "rectangle":
        return box(0, 0, 1.0, rng.uniform(0.45, 0.8))
    if kind == "triangle":
        edges = [(0.0, 1.0), (-0.866, -0.5), (0.866, -0.5)]
        return np.max([nu * u + nv * v - 0.55 for nu, nv in edges], axis=0)
    if kind == "ellipse":
        minor = rng.uniform(0.4, 0.65)
        return (np.sqrt(u**2 + (v / minor) ** 2) - 1.0) * minor
    if kind == "cross":
        arm = rng.uniform(0.25, 0.4)
        return np.minimum(box(0, 0, 1.0, arm), box(0, 0, arm, 1.0))
    return np.minimum(box(0, 0.65, 1.0, 0.35), box(-0.65, 0, 0.35, 1.0))  # "ell"


def _background(
    rng: np.random.Generator,
    size: int,
    contrast: tuple[float, float],
    grain: tuple[float, float],
) -> np.ndarray:
    """A static textured background float32 [H, W, 3]: coloured blobs, stripes or a checkerboard
    at a random contrast, plus fixed grain."""
    kind = rng.integers(3)
    if kind == 0:
        cells = rng.integers(3, 9)
        coarse = rng.uniform(0, 255, size=(cells, cells, 3)).astype(np.float32)
        positions = np.linspace(0, cells - 1, size)
        lo = np.floor(positions).astype(int).clip(0, cells - 2)
        w = (positions - lo)[:, None]
        rows = coarse[lo] * (1 - w[..., None]) + coarse[lo + 1] * w[..., None]
        image = rows[:, lo] * (1 - w[None]) + rows[:, lo + 1] * w[None]
    else:
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(6, 20)
        along = xs * np.cos(theta) + ys * np.sin(theta)
        across = -xs * np.sin(theta) + ys * np.cos(theta)
        if kind == 1:
            pattern = 0.5 + 0.5 * np.sin(2 * np.pi * along / period)
        else:
            pattern = (np.floor(along / period) + np.floor(across / period)) % 2
        colours = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
        image = colours[1] + (colours[0] - colours[1]) * pattern[..., None]
    mean = image.mean((0, 1))
    image = mean + rng.uniform(*contrast) * (image - mean)
    return (image + rng.normal(0, rng.uniform(*grain), size=(size, size, 1))).astype(np.float32)


# The demo variant: one actor over a flat background, no distractors or noise, fast motion.
# The bundled demo model is pretrained and probed on it (docs/pretraining.md).
DEMO_CLASSES: tuple[str, ...] = (*TRANSLATION_CLASSES, "grow", "shrink")
DEMO_SETTINGS = MotionSettings(
    speed=(3.0, 4.0), distractors=(0, 0), noise=(0.0, 0.0), background_contrast=(0.0, 0.0),
    grain=(0.0, 0.0),
)  # fmt: skip


# The paired variants: classes in time-reversal pairs, each time point held for one tubelet.
TIME_REVERSAL: dict[str, str] = {
    "translate_left": "translate_right",
    "translate_right": "translate_left",
    "translate_up": "translate_down",
    "translate_down": "translate_up",
    "rotate_cw": "rotate_ccw",
    "rotate_ccw": "rotate_cw",
    "grow": "shrink",
    "shrink": "grow",
}
PAIRED_CLASSES: dict[int, tuple[str, ...]] = {1: DEMO_CLASSES, 2: MOTION_CLASSES}


@dataclass(frozen=True)
class PairedSettings:
    """How the paired variants draw clips. Each of the ``frames // tubelet`` time points is shown
    for exactly ``tubelet`` frames, so no tubelet of a V-JEPA 2 encoder with that tubelet size
    holds motion. Lengths are fractions of the frame size; motions are totals over the clip.

    Level 1: a flat background of a random colour. Level 2: a random low-contrast static
    texture and one still distractor shape."""

    level: int = 1
    frames: int = 16
    size: int = 64
    tubelet: int = 2
    actor_size: tuple[float, float] = (0.09, 0.16)  # half-extent at mid-clip
    offset: float = 0.1  # largest distance of the mid-clip centre from the frame centre, per axis
    travel: tuple[float, float] = (0.33, 0.5)  # translation
    spin: tuple[float, float] = (70.0, 140.0)  # rotation, degrees
    growth: tuple[float, float] = (1.8, 2.6)  # last/first size ratio of grow (inverse: shrink)
    background_contrast: tuple[float, float] = (0.1, 0.3)  # level 2
    grain: tuple[float, float] = (0.0, 3.0)  # level 2, static


def render_paired_clip(
    label: str, rng: np.random.Generator, settings: PairedSettings = PairedSettings()
) -> np.ndarray:
    """One clip of the paired variants: uint8 ``[T, H, W, 3]`` with frames ``2k`` and ``2k + 1``
    equal (for tubelet 2).

    Every random draw is made whatever the class, and time runs symmetrically around mid-clip, so
    ``render_paired_clip(TIME_REVERSAL[label], rng)`` is exactly this clip played backwards (for
    the same ``rng`` state): a class and its partner differ only in the order of time points."""
    if label not in MOTION_CLASSES:
        raise ValueError(f"unknown motion class {label!r}; known: {', '.join(MOTION_CLASSES)}")
    s = settings
    points = s.frames // s.tubelet
    if s.frames % s.tubelet or points < 2:
        raise ValueError(f"frames ({s.frames}) must be 2 or more tubelets of {s.tubelet}")
    if s.level not in (1, 2):
        raise ValueError(f"level must be 1 or 2, not {s.level}")
    ys, xs = np.mgrid[0 : s.size, 0 : s.size].astype(np.float32) + 0.5
    if s.level == 1:
        background = np.full((s.size, s.size, 3), rng.uniform(0, 255, size=3), np.float32)
    else:
        background = _background(rng, s.size, s.background_contrast, s.grain)
    frames = np.broadcast_to(background, (points, s.size, s.size, 3)).copy()
    if s.level == 2:  # one still distractor that looks like an actor
        still = np.ones(points, np.float32)
        cx, cy = rng.uniform(0.15 * s.size, 0.85 * s.size, size=2)
        angle, half = rng.uniform(0, 360), rng.uniform(*s.actor_size) * s.size
        _draw_shape(frames, xs, ys, rng, cx * still, cy * still, angle * still, half * still)
    _draw_shape(frames, xs, ys, rng, *_paired_actor_motion(label, rng, points, s))
    frames = np.repeat(frames, s.tubelet, axis=0)
    return np.clip(frames, 0, 255).round().astype(np.uint8)


def _paired_actor_motion(
    label: str, rng: np.random.Generator, points: int, s: PairedSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre x, y, angle and half-extent ``[points]`` each. ``tau`` runs from -0.5 to 0.5 and
    is computed so that ``tau[::-1] == -tau`` exactly, which makes a reversed clip bit-identical
    to its partner's."""
    steps = np.arange(points, dtype=np.float64)
    tau = (2 * steps - (points - 1)) / (2 * (points - 1))
    cx, cy = s.size / 2 + s.offset * s.size * rng.uniform(-1, 1, size=2)
    angle = rng.uniform(0, 360)
    half = rng.uniform(*s.actor_size) * s.size
    travel = rng.uniform(*s.travel) * s.size * tau
    spin = rng.uniform(*s.spin) * tau
    ratio = rng.uniform(*s.growth)
    path_x, path_y = np.full_like(tau, cx), np.full_like(tau, cy)
    angles, halves = np.full_like(tau, angle), np.full_like(tau, half)
    if label.startswith("translate"):
        dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[label[10:]]
        path_x, path_y = cx + dx * travel, cy + dy * travel
    elif label.startswith("rotate"):  # image y points down: a growing angle turns clockwise
        angles = angle + (spin if label == "rotate_cw" else -spin)
    else:
        halves = half * ratio ** (tau if label == "grow" else -tau)
    return tuple(a.astype(np.float32) for a in (path_x, path_y, angles, halves))


def reversal_partners(classes: Sequence[str]) -> list[int]:
    """Index in ``classes`` of each class's time reversal (``TIME_REVERSAL``); every class's
    partner must be among ``classes``."""
    missing = [c for c in classes if TIME_REVERSAL.get(c) not in classes]
    if missing:
        raise ValueError(f"classes without their time reversal among the classes: {missing}")
    return [list(classes).index(TIME_REVERSAL[c]) for c in classes]


def within_pair_accuracy(scores, labels, classes: Sequence[str]) -> float:
    """How often the direction is right within the true class's time-reversal pair (chance 0.5).

    ``scores``: logits ``[N, C]`` (a clip counts as right when its true class scores above its
    partner, a tie as half) or predicted class indices ``[N]`` (only the clips predicted as their
    class or its partner count; NaN when there are none). ``labels``: true indices ``[N]``;
    ``classes[i]``: the name of class ``i``. Tensors and lists are accepted."""
    partners = np.asarray(reversal_partners(classes))
    scores, labels = np.asarray(scores), np.asarray(labels, dtype=np.int64)
    if scores.ndim == 2:
        rows = np.arange(len(labels))
        own, other = scores[rows, labels], scores[rows, partners[labels]]
        return float(np.mean((own > other) + 0.5 * (own == other))) if len(labels) else math.nan
    in_pair = (scores == labels) | (scores == partners[labels])
    return float(np.mean(scores[in_pair] == labels[in_pair])) if in_pair.any() else math.nan


@dataclass(frozen=True)
class MotionDataset:
    """Where `make_motion_dataset` put things."""

    root: Path
    classes: tuple[str, ...]
    counts: dict[str, int]

    def manifest(self, split: str) -> Path:
        return self.root / ("unlabelled.txt" if split == "unlabelled" else f"{split}.csv")


def split_labels(split: str, count: int, classes: Sequence[str], seed: int) -> list[str]:
    """Class of each of the ``count`` clips of a split, in a seeded random order: every class
    ``count // len(classes)`` times, plus one clip each of the first ``count % len(classes)``."""
    per_class, extra = divmod(count, len(classes))
    labels = np.concatenate([np.repeat(np.arange(len(classes)), per_class), np.arange(extra)])
    np.random.default_rng((seed, SPLITS.index(split), 1 << 30)).shuffle(labels)
    return [classes[i] for i in labels]


# x264's macroblock-tree rate control makes the bitstream vary from run to run for identical
# frames (seen on these small clips); without it, the files are byte-for-byte repeatable.
X264_OPTIONS = {"preset": "medium", "crf": "16", "threads": "1", "x264-params": "no-mbtree=1"}
# The paired variants are written losslessly (qp 0): lossy coding leaves small differences
# between the two frames of a tubelet (max 7, mean 0.05 at crf 16) that could hint at the
# direction; at qp 0 they decode identical, and the files are no bigger at this size.
PAIRED_X264_OPTIONS = {"preset": "medium", "qp": "0", "threads": "1", "x264-params": "no-mbtree=1"}


def draw_clip(
    label: str, rng: np.random.Generator, settings: MotionSettings | PairedSettings
) -> np.ndarray:
    """One clip of the variant ``settings`` describes: uint8 ``[T, H, W, 3]``."""
    if isinstance(settings, PairedSettings):
        return render_paired_clip(label, rng, settings)
    return render_clip(label, rng, settings)


def _write_clip(
    job: tuple[Path, str, int, str, int, MotionSettings | PairedSettings, float],
) -> None:
    path, label, seed, split, index, settings, fps = job
    frames = draw_clip(label, clip_rng(seed, split, index), settings)
    # The rename keeps a killed run from leaving half a clip; thousands of small files skip the
    # fsync (a clip lost to a power cut is simply drawn again: generation is deterministic).
    with atomic_write(path, fsync=False) as tmp:
        options = PAIRED_X264_OPTIONS if isinstance(settings, PairedSettings) else X264_OPTIONS
        encode_video(tmp, frames, fps=fps, container_format="mp4", options=options)


def make_motion_dataset(
    out_dir: str | os.PathLike,
    seed: int = 0,
    classes: Sequence[str] = MOTION_CLASSES,
    counts: dict[str, int] | None = None,
    settings: MotionSettings | PairedSettings = MotionSettings(),
    fps: float = 4.0,
    workers: int = 1,
    progress: bool = False,
    variant: str | None = None,
) -> MotionDataset:
    """Generate the benchmark under ``out_dir`` (see the module docstring for the layout).

    ``counts`` gives clips per split (default: 4000 unlabelled, 100 / 25 / 100 per class for
    train / val / test); each split is balanced over ``classes``. ``fps`` is the frame rate
    written into the files: at 4, pretraining's default ``--fps 4`` reads every frame.
    Existing files are kept (generation is deterministic, so an interrupted run can resume).
    ``variant``, when given, is recorded in motion.json with the settings.
    """
    classes = tuple(classes)
    for name in classes:
        if name not in MOTION_CLASSES:
            raise ValueError(f"unknown motion class {name!r}; known: {', '.join(MOTION_CLASSES)}")
    counts = counts or {
        "unlabelled": 4000,
        "train": 100 * len(classes),
        "val": 25 * len(classes),
        "test": 100 * len(classes),
    }
    root = Path(out_dir)
    jobs, manifests = [], {}
    for split in SPLITS:
        labels = split_labels(split, counts.get(split, 0), classes, seed)
        (root / split).mkdir(parents=True, exist_ok=True)
        rows = []
        for index, label in enumerate(labels):
            path = root / split / f"{index:06d}.mp4"
            rows.append((path.relative_to(root).as_posix(), label))
            if not path.exists():
                jobs.append((path, label, seed, split, index, settings, fps))
        manifests[split] = rows

    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            done = pool.map(_write_clip, jobs, chunksize=16)
            _consume(done, len(jobs), progress)
    else:
        _consume(map(_write_clip, jobs), len(jobs), progress)

    for split, rows in manifests.items():
        if split == "unlabelled":
            (root / "unlabelled.txt").write_text("".join(f"{p}\n" for p, _ in rows))
        else:
            lines = ["path,label"] + [f"{p},{label}" for p, label in rows]
            (root / f"{split}.csv").write_text("\n".join(lines) + "\n")
    (root / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    meta = {"seed": seed, "classes": list(classes), "counts": counts, "fps": fps}
    if variant is not None:
        meta = {"variant": variant, **meta}
    meta["settings"] = asdict(settings)
    (root / "motion.json").write_text(json.dumps(meta, indent=2) + "\n")
    return MotionDataset(root, classes, {s: len(r) for s, r in manifests.items()})


def _consume(results, total: int, progress: bool) -> None:
    if progress:
        results = tqdm(results, total=total, desc="clips", unit="clip")
    for _ in results:
        pass
