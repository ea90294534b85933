"""``vjepa2 train-ac``: post-train the action-conditioned predictor of a world model on robot
trajectories. Its options are the fields of `TrainACOptions` (see `vjepa2.cli.options`)."""

from __future__ import annotations

import logging

import typer

from vjepa2.cli.app import app, show_package_logs
from vjepa2.cli.options import options_command
from vjepa2.train.ac import train_ac as run_training
from vjepa2.train.ac_options import TrainACOptions


@app.command("train-ac", no_args_is_help=True)
@options_command(TrainACOptions)
def train_ac(options: TrainACOptions) -> None:
    """Train V-JEPA 2-AC's action-conditioned predictor on your robot's trajectories, the
    encoder frozen: teacher-forcing + rollout L1 losses on frame encodings cached once.

    **Examples**

    ```
    vjepa2 make-robot-data robot/ --episodes 200 --steps 20 --size 64
    vjepa2 train-ac --data robot/ --config tiny-ac.json --encoder runs/pretrain/latest.pt \\
        --out runs/ac --epochs 30 --batch-size 16
    vjepa2 train-ac --data droid-like/ --model vjepa2-ac-vitg.pt --out runs/ac-ft --lr 1e-4
    vjepa2 train-ac --data robot2/ --model runs/ac/model --out runs/ac2
    vjepa2 train-ac --data lerobot/my_robot --model runs/ac/model --out runs/ac3 --camera top
    torchrun --nproc_per_node 8 -m vjepa2 train-ac --data robot/ --model ... --out runs/big
    vjepa2 train-ac ... --resume          (same command, continues from latest.pt)
    vjepa2 train-ac ... --resume --epochs 60 --allow-change epochs
    ```

    DATA holds train/ (and optionally val/) episodes: NAME.mp4 + NAME.npz with states [T, S],
    optional actions [T-1, A] and fps (docs/train-ac.md), or is a local LeRobot dataset
    (meta/info.json; --camera, --state-key, --action-key, --val-episodes; needs pip install
    'vjepa2[robot]'). Clips of --frames frames are taken
    at about --fps from a random start per epoch. Every frame is encoded once by the frozen
    encoder into OUT/cache/ (reused by later runs on the same encoder). The run folder holds
    latest.pt (predictor + optimiser + RNG states: exact --resume), model/ (the trained world
    model, loadable with vjepa2.load; written at the end), run.json, metrics.jsonl and
    TensorBoard logs under tb/ (both losses, lr, clips/s, validation losses). A folder that
    holds a run is refused unless --resume or --overwrite.
    """
    show_package_logs(logging.INFO)
    summary = run_training(options)
    if summary["rank"] == 0:
        val = "" if summary["val_loss"] is None else f", validation {summary['val_loss']:.4f}"
        typer.echo(
            f"{summary['steps']} steps, last loss {summary['loss']:.4f}{val}; "
            f"world model {summary['model']}"
        )
