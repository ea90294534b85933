"""Validate `vjepa2 surprise` on the toy robot world: does the score peak where the world breaks?

For each seed, one push-task episode (``--policy``: the exploration policy, or the scripted
oracle pushing the object to its goal) is rendered three ways:
normal; the object teleports (jumps 0.12-0.2 m) at a random frame in the middle; the object
vanishes at that frame. Each video is scored by `vjepa2.inference.surprise.surprise_windows`
(the same path as the CLI: an MP4 decoded window batch by window batch). Reported:

- hit rate: the event clip's peak window lies within one window of a window whose predicted
  (future) frames contain the event frame;
- exceed rate: the event clip's peak is above the 95th percentile of all window scores of the
  normal clips (and, stricter, above the 95th percentile of the normal clips' peaks).

    OMP_NUM_THREADS=1 python experiments/surprise_validation.py --clips 50 --out runs/surprise
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

import vjepa2
from vjepa2.data.clip_pipeline import ClipSpec
from vjepa2.inference.surprise import draw_curve, surprise_windows, write_csv
from vjepa2.sim import ExplorationPolicy, RobotWorld, oracle_action
from vjepa2.video.writer import encode_video

FPS = 4.0
EVENTS = ("teleport", "vanish")
FAR_AWAY = np.array([10.0, 10.0])  # off the table: not drawn


def episode(
    seed: int, frames: int, event: str | None, event_frame: int, policy_name: str = "explore"
) -> np.ndarray:
    """uint8 [frames, 64, 64, 3] of one episode (the exploration policy or the scripted oracle
    pushing the object to its goal), with ``event`` from ``event_frame`` on (the object drawn
    elsewhere or not at all)."""
    env = RobotWorld(task="push", size=64)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed + 10_000)
    explore = ExplorationPolicy(env, rng)
    policy = explore if policy_name == "explore" else (lambda: oracle_action(env))
    angle = rng.uniform(0, 2 * np.pi)
    jump = rng.uniform(0.12, 0.2) * np.array([np.cos(angle), np.sin(angle)])
    limit = env.config.object_limit
    out = []
    for t in range(frames):
        shown = env.object_position
        if event == "teleport" and t >= event_frame:
            shown = np.clip(shown + jump, -limit, limit)
        elif event == "vanish" and t >= event_frame:
            shown = FAR_AWAY
        out.append(env.render_state(env.state, shown))
        env.step(policy())
    return np.stack(out)


def score(video: np.ndarray, model, spec: ClipSpec, context: int, folder: Path) -> list:
    path = encode_video(folder / "clip.mp4", video, fps=FPS)
    return list(surprise_windows(path, model, spec, context))


def is_hit(windows: list, event_frame: int, context: int, future: int) -> bool:
    """Whether the peak window is within one window of one that predicts the event frame."""
    starts = [round(w.start_s * FPS) for w in windows]
    covering = [i for i, s in enumerate(starts) if 0 <= event_frame - s - context < future]
    peak = int(np.argmax([w.score for w in windows]))
    return any(abs(peak - i) <= 1 for i in covering)


def run(args: argparse.Namespace) -> dict:
    model = vjepa2.load(args.model).eval()
    spec = ClipSpec(frames=args.context + args.future, crop_size=model.config.crop_size,
                    stride=args.stride)  # fmt: skip
    normal_scores, normal_peaks = [], []
    events = {name: {"hits": 0, "peaks": []} for name in EVENTS}
    example = None
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.clips):
            event_frame = int(
                np.random.default_rng(seed).integers(args.frames // 2 - 4, args.frames // 2 + 5)
            )
            normal = score(episode(seed, args.frames, None, 0, args.policy), model, spec,
                           args.context, Path(tmp))  # fmt: skip
            normal_scores += [w.score for w in normal]
            normal_peaks.append(max(w.score for w in normal))
            for name in EVENTS:
                video = episode(seed, args.frames, name, event_frame, args.policy)
                windows = score(video, model, spec, args.context, Path(tmp))
                events[name]["hits"] += is_hit(windows, event_frame, args.context, args.future)
                events[name]["peaks"].append(max(w.score for w in windows))
                if example is None:
                    example = (name, event_frame, windows)
    return summarise(args, normal_scores, normal_peaks, events, example)


def summarise(args, normal_scores, normal_peaks, events, example) -> dict:
    threshold = float(np.percentile(normal_scores, 95))
    strict = float(np.percentile(normal_peaks, 95))
    result = {"model": args.model, "policy": args.policy, "clips": args.clips,
              "frames": args.frames, "context": args.context, "future": args.future,
              "stride": args.stride,
              "normal_p95_window": threshold, "normal_p95_peak": strict}  # fmt: skip
    for name, found in events.items():
        peaks = np.array(found["peaks"])
        result[name] = {
            "hit_rate": found["hits"] / args.clips,
            "exceed_rate": float((peaks > threshold).mean()),
            "exceed_peak_rate": float((peaks > strict).mean()),
        }
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        name, event_frame, windows = example
        write_csv(windows, args.out / f"example-{name}.csv")
        draw_curve(windows, args.out / f"example-{name}.png", events=[event_frame / FPS],
                   title=f"{name} at {event_frame / FPS:.2f} s (frame {event_frame})")  # fmt: skip
        (args.out / "summary.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--clips", type=int, default=50)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--context", type=int, default=8)
    parser.add_argument("--future", type=int, default=8)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--policy", choices=("explore", "oracle"), default="explore")
    parser.add_argument("--out", type=Path, default=None)
    torch.manual_seed(0)
    print(json.dumps(run(parser.parse_args()), indent=2))


if __name__ == "__main__":
    main()
