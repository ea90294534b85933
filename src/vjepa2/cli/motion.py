"""``vjepa2 make-motion-data``: the synthetic motion benchmark (see `vjepa2.data.motion`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from vjepa2.cli.app import app
from vjepa2.data.motion import (
    DEMO_CLASSES,
    DEMO_SETTINGS,
    MOTION_CLASSES,
    PAIRED_CLASSES,
    TRANSLATION_CLASSES,
    MotionSettings,
    PairedSettings,
    make_motion_dataset,
    reversal_partners,
)

VARIANTS = ("full", "demo", "paired1", "paired2")


@app.command("make-motion-data", no_args_is_help=True)
def make_motion_data(
    out: Annotated[Path, typer.Argument(help="Folder to write the clips and manifests into.")],
    seed: Annotated[int, typer.Option(help="Everything is drawn from this seed.")] = 0,
    classes: Annotated[
        str,
        typer.Option(
            help="Comma-separated motion classes, or 'all' (8 classes), 'translate' "
            "(the 4 translations) or 'demo' (translations, grow, shrink). Default: 'demo' "
            "with --variant demo or paired1, else 'all'. The paired variants need each "
            "class's time reversal too."
        ),
    ] = "",
    variant: Annotated[
        str,
        typer.Option(
            help="'full': textured backgrounds, distractors, noise. 'demo': one fast shape over a "
            "flat background (what the bundled demo model was trained on). 'paired1' / "
            "'paired2': each time point held for 2 frames (one tubelet), classes in "
            "time-reversal pairs; level 1 a flat background, level 2 a faint texture and one "
            "still distractor (docs/pretraining.md)."
        ),
    ] = "full",
    unlabelled: Annotated[int, typer.Option(help="Clips in the unlabelled split.")] = 4000,
    train_per_class: Annotated[int, typer.Option(help="Labelled training clips per class.")] = 100,
    val_per_class: Annotated[int, typer.Option(help="Validation clips per class.")] = 25,
    test_per_class: Annotated[int, typer.Option(help="Test clips per class.")] = 100,
    frames: Annotated[int, typer.Option(help="Frames per clip.")] = 16,
    size: Annotated[int, typer.Option(help="Frame width and height in pixels.")] = 64,
    fps: Annotated[
        float, typer.Option(help="Frame rate written into the files (4: --fps 4 reads all).")
    ] = 4.0,
    workers: Annotated[int, typer.Option(help="Processes drawing and encoding clips.")] = 1,
    hold: Annotated[
        int,
        typer.Option(
            min=1,
            help="Paired variants: frames each time point is shown for. 2 (one tubelet, the "
            "benchmark) leaves no motion inside a tubelet; 1 draws the same kind of clip with "
            "smooth motion (e.g. extra unlabelled footage).",
        ),
    ] = 2,
) -> None:
    """Generate the synthetic motion benchmark: textured shapes that translate (4 directions),
    rotate (clockwise / anticlockwise), grow or shrink, among distractor shapes that stay put or
    wobble, over random textured backgrounds. Deterministic from --seed.

    **Examples**

    ```
    vjepa2 make-motion-data motion/ --seed 0
    vjepa2 make-motion-data demo6/ --variant demo --unlabelled 3000 --train-per-class 150
    vjepa2 make-motion-data toy/ --classes translate --unlabelled 0 --train-per-class 20
    vjepa2 make-motion-data paired1/ --variant paired1 --train-per-class 200 --workers 2
    vjepa2 make-motion-data smooth1/ --variant paired1 --hold 1 --seed 1 --unlabelled 3000 \\
        --train-per-class 0 --val-per-class 0 --test-per-class 0
    ```

    Writes OUT/{unlabelled,train,val,test}/NNNNNN.mp4 (H.264), unlabelled.txt (for
    'vjepa2 pretrain --data'), train.csv / val.csv / test.csv (path,label) and classes.txt.
    """
    if variant not in VARIANTS:
        raise typer.BadParameter(f"choose one of {', '.join(VARIANTS)}", param_hint="--variant")
    paired = variant.startswith("paired")
    if paired and (frames % hold or frames // hold < 2):
        raise typer.BadParameter(f"the paired variants hold each time point for {hold} frames "
                                 "(--hold): give twice that or more, a multiple of it",
                                 param_hint="--frames")  # fmt: skip
    if not paired and hold != 2:
        raise typer.BadParameter("only the paired variants hold time points", param_hint="--hold")
    defaults = {"demo": DEMO_CLASSES, "paired1": PAIRED_CLASSES[1], "paired2": PAIRED_CLASSES[2]}
    names = _class_names(classes) if classes else defaults.get(variant, MOTION_CLASSES)
    if paired:
        try:
            reversal_partners(names)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--classes") from None
        settings = PairedSettings(level=int(variant[-1]), tubelet=hold)
    else:
        settings = DEMO_SETTINGS if variant == "demo" else MotionSettings()
    settings = dataclasses.replace(settings, frames=frames, size=size)
    counts = {
        "unlabelled": unlabelled,
        "train": train_per_class * len(names),
        "val": val_per_class * len(names),
        "test": test_per_class * len(names),
    }
    dataset = make_motion_dataset(
        out, seed=seed, classes=names, counts=counts, workers=workers, progress=True,
        settings=settings, fps=fps, variant=variant,
    )  # fmt: skip
    parts = ", ".join(f"{n} {split}" for split, n in dataset.counts.items())
    typer.echo(f"wrote {parts} clips of {len(names)} classes to {out}")


def _class_names(classes: str) -> tuple[str, ...]:
    """The --classes value as class names: a named set or a comma-separated list."""
    named = {"all": MOTION_CLASSES, "translate": TRANSLATION_CLASSES, "demo": DEMO_CLASSES}
    if classes in named:
        return named[classes]
    names = tuple(c.strip() for c in classes.split(",") if c.strip())
    unknown = [c for c in names if c not in MOTION_CLASSES]
    if unknown:
        raise typer.BadParameter(f"unknown classes {unknown}; known: {', '.join(MOTION_CLASSES)}")
    return names
