"""Validate `vjepa2 surprise` on the toy robot world: does the score peak where the world breaks?

For each seed, one push-task episode (``--policy``: the exploration policy, or the scripted
oracle pushing the object to its goal) is rendered three ways:
normal; the object teleports (jumps 0.12-0.2 m) at a random frame in the middle; the object
vanishes at that frame. Each video is scored the way the CLI scores it:

- with a V-JEPA 2 model (``--model``): `vjepa2.inference.surprise.surprise_windows` on an MP4
  (sliding windows of ``--context`` + ``--future`` frames, the future masked);
- with a world model (``--world-model``): the episode is written in the trajectory format (MP4 +
  states and actions) and every step is scored by `vjepa2.inference.surprise_ac.step_errors`
  (frame t+1 predicted from the ``--context`` frames before it and the robot's actions), its
  tokens' errors reduced by their mean and by their max.

Each score is also measured relative to the clip's running level (``--relative N``:
`relative_scores`, the score over the median of it and the N before it). Reported per score and
event kind:

- hit rate: the event clip's peak window lies within one window of a window whose predicted
  frames contain the event frame (with a world model a window is one step: the peak must
  predict the event frame, the one before or the one after);
- exceed rate: the event clip's peak is above the 95th percentile of all window scores of the
  normal clips (and, stricter, above the 95th percentile of the normal clips' peaks).

    OMP_NUM_THREADS=1 python experiments/surprise_validation.py --clips 50 --out runs/surprise
    OMP_NUM_THREADS=1 python experiments/surprise_validation.py --world-model runs/ac/model
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import vjepa2
from vjepa2.data.clip_pipeline import ClipSpec
from vjepa2.data.trajectories import read_episode, write_episode
from vjepa2.inference.surprise import (
    SurpriseWindow,
    draw_curve,
    reduce_tokens,
    relative_scores,
    spike_scores,
    surprise_windows,
    write_csv,
)
from vjepa2.inference.surprise_ac import step_errors
from vjepa2.sim import ExplorationPolicy, RobotWorld, oracle_action
from vjepa2.video.writer import encode_video

FPS = 4.0
EVENTS = ("teleport", "vanish")
FAR_AWAY = np.array([10.0, 10.0])  # off the table: not drawn


def episode(
    seed: int, frames: int, event: str | None, event_frame: int, policy_name: str = "explore"
) -> dict[str, np.ndarray]:
    """One episode (the exploration policy or the scripted oracle pushing the object to its
    goal), with ``event`` from ``event_frame`` on (the object drawn elsewhere or not at all):
    frames uint8 [frames, 64, 64, 3], states [frames, 7], the applied actions [frames-1, 7]."""
    env = RobotWorld(task="push", size=64)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed + 10_000)
    explore = ExplorationPolicy(env, rng)
    policy = explore if policy_name == "explore" else (lambda: oracle_action(env))
    angle = rng.uniform(0, 2 * np.pi)
    jump = rng.uniform(0.12, 0.2) * np.array([np.cos(angle), np.sin(angle)])
    limit = env.config.object_limit
    out, states, actions = [], [], []
    for t in range(frames):
        shown = env.object_position
        if event == "teleport" and t >= event_frame:
            shown = np.clip(shown + jump, -limit, limit)
        elif event == "vanish" and t >= event_frame:
            shown = FAR_AWAY
        out.append(env.render_state(env.state, shown))
        states.append(env.state)
        if t + 1 < frames:
            actions.append(env.step(policy())[4]["action"])
    return {"frames": np.stack(out), "states": np.stack(states), "actions": np.stack(actions)}


class Scorer:
    """Scores a clip every way measured: ``{score name: windows}``."""

    def __init__(self, args: argparse.Namespace, folder: Path) -> None:
        self.args, self.folder = args, folder
        self.errors: list[np.ndarray] = []  # the world model's per-token errors, [S, N] a clip
        self.saved = None if args.errors is None else np.load(args.errors)
        self.wm = None
        if args.world_model is not None and args.errors is None:
            self.wm = vjepa2.load(args.world_model).eval()
        if self.wm is None:
            self.model = vjepa2.load(args.model).eval()
            self.spec = ClipSpec(frames=args.context + args.future, stride=args.stride,
                                 crop_size=self.model.config.crop_size)  # fmt: skip

    def __call__(self, clip: dict[str, np.ndarray]) -> dict[str, list[SurpriseWindow]]:
        use_world_model = self.args.world_model is not None
        return self.world_model(clip) if use_world_model else self.masked(clip)

    def with_relative(self, scores: dict[str, list[SurpriseWindow]]) -> dict:
        """``scores`` and each of them over the clip's running level (`relative_scores`)."""
        level = self.args.relative
        relative = {f"{name}, relative {level}": list(relative_scores(windows, level))
                    for name, windows in scores.items()}  # fmt: skip
        return scores | relative

    def masked(self, clip: dict[str, np.ndarray]) -> dict[str, list[SurpriseWindow]]:
        path = encode_video(self.folder / "clip.mp4", clip["frames"], fps=FPS)
        windows = surprise_windows(path, self.model, self.spec, self.args.context,
                                   reduce=self.args.reduce)  # fmt: skip
        return self.with_relative({f"masked {self.args.reduce}": list(windows)})

    def world_model(self, clip: dict[str, np.ndarray]) -> dict[str, list[SurpriseWindow]]:
        if self.saved is not None:  # --errors: the per-token errors of an earlier run
            errors = torch.from_numpy(self.saved[len(self.errors)])
        else:
            write_episode(self.folder, "clip", clip["frames"], clip["states"], clip["actions"], FPS)
            episode = read_episode(self.folder / "clip.mp4")
            errors = torch.stack(
                [s.errors for s in step_errors(self.wm, episode, self.args.context)]
            )
        self.errors.append(errors.numpy())
        return ac_scores(errors, self.args.relative)


def windows_of(scores: torch.Tensor) -> list[SurpriseWindow]:
    """Step scores ``[S]`` as windows: step i predicts frame i + 1."""
    return [SurpriseWindow(i / FPS, (i + 1) / FPS, float(v)) for i, v in enumerate(scores)]


def ac_scores(errors: torch.Tensor, level: int) -> dict[str, list[SurpriseWindow]]:
    """Every score measured from the per-token errors ``[S, N]`` of a clip's steps."""
    plain = {f"AC {how}": windows_of(reduce_tokens(errors, how)) for how in ("mean", "max")}
    scores = dict(plain)
    for name, windows in plain.items():
        scores[f"{name}, relative {level}"] = list(relative_scores(windows, level))
    scores[f"AC max of token / its running level {level}"] = windows_of(
        token_relative(errors, level)
    )
    scores["AC mean, spike"] = list(spike_scores(plain["AC mean"]))
    scores["AC max of token spikes"] = windows_of(spike(errors).amax(-1))
    return scores


def token_relative(errors: torch.Tensor, level: int) -> torch.Tensor:
    """Each token's error ``[S, N]`` over the median of its own errors at this step and the
    ``level`` before, then the largest over the tokens, ``[S]``: a token that is usually well
    predicted (the still table, the object at rest) counts more than one that is always hard
    (the gripper)."""
    out = []
    for i in range(len(errors)):
        running = errors[max(0, i - level) : i + 1].quantile(0.5, dim=0).clamp_min(1e-8)
        out.append((errors[i] / running).max())
    return torch.stack(out)


def spike(errors: torch.Tensor) -> torch.Tensor:
    """`spike_scores` per token: how far each step's errors ``[S, N]`` stand above the larger
    of the neighbouring steps' (the missing one at either end ignored)."""
    before = torch.cat([errors[:1] * 0 - torch.inf, errors[:-1]])
    after = torch.cat([errors[1:], errors[-1:] * 0 - torch.inf])
    return errors - torch.maximum(before, after)


def covering(windows: list[SurpriseWindow], event_frame: int, args: argparse.Namespace) -> list:
    """The windows whose predicted frames contain the event frame."""
    if args.world_model is not None:  # a step predicts the frame at its end
        return [i for i, w in enumerate(windows) if round(w.end_s * FPS) == event_frame]
    starts = [round(w.start_s * FPS) for w in windows]
    return [i for i, s in enumerate(starts) if 0 <= event_frame - s - args.context < args.future]


def is_hit(windows: list[SurpriseWindow], event_frame: int, args: argparse.Namespace) -> bool:
    """Whether the peak window is within one window of one that predicts the event frame."""
    peak = int(np.argmax([w.score for w in windows]))
    return any(abs(peak - i) <= 1 for i in covering(windows, event_frame, args))


def run(args: argparse.Namespace) -> dict:
    normal: dict[str, list] = {}
    events: dict[tuple[str, str], list] = {}
    examples = {}
    with tempfile.TemporaryDirectory() as tmp:
        scorer = Scorer(args, Path(tmp))
        for seed in range(args.clips):
            event_frame = int(
                np.random.default_rng(seed).integers(args.frames // 2 - 4, args.frames // 2 + 5)
            )
            for name, windows in scorer(episode(seed, args.frames, None, 0, args.policy)).items():
                normal.setdefault(name, []).append([w.score for w in windows])
            for event in EVENTS:
                clip = episode(seed, args.frames, event, event_frame, args.policy)
                for name, windows in scorer(clip).items():
                    peak = max(w.score for w in windows)
                    hit = is_hit(windows, event_frame, args)
                    events.setdefault((name, event), []).append((hit, peak))
                    examples.setdefault((name, event), (event_frame, windows))
            print(f"seed {seed} done", file=sys.stderr, flush=True)
    if args.out is not None and scorer.errors:  # clips in order: seed by seed, normal first
        args.out.mkdir(parents=True, exist_ok=True)
        np.save(args.out / "token-errors.npy", np.stack(scorer.errors))
    return summarise(args, normal, events, examples)


def summarise(args, normal, events, examples) -> dict:
    result = {key: str(value) if isinstance(value, Path) else value
              for key, value in vars(args).items()}  # fmt: skip
    table = []
    for (name, event), found in events.items():
        threshold = float(np.percentile(np.concatenate(normal[name]), 95))
        strict = float(np.percentile([max(scores) for scores in normal[name]], 95))
        hits, peaks = np.array([h for h, _ in found]), np.array([p for _, p in found])
        table.append({"score": name, "event": event, "hit_rate": float(hits.mean()),
                      "exceed_rate": float((peaks > threshold).mean()),
                      "exceed_peak_rate": float((peaks > strict).mean()),
                      "normal_p95_window": threshold, "normal_p95_peak": strict})  # fmt: skip
    result["table"] = table
    if args.out is not None:
        write_examples(args.out, examples)
        (args.out / "summary.json").write_text(json.dumps(result, indent=2))
    return result


def write_examples(out: Path, examples: dict) -> None:
    """The first seed's curve of every score and event, as CSV and PNG."""
    out.mkdir(parents=True, exist_ok=True)
    for (name, event), (event_frame, windows) in examples.items():
        stem = "example-" + "".join(c if c.isalnum() else "-" for c in name) + f"-{event}"
        write_csv(windows, out / f"{stem}.csv")
        title = f"{name}: {event} at {event_frame / FPS:.2f} s (frame {event_frame})"
        draw_curve(windows, out / f"{stem}.png", events=[event_frame / FPS], title=title)


def print_table(result: dict) -> None:
    print("| score | event | hit | exceed | exceed (peaks) |")
    print("|---|---|---|---|---|")
    for row in sorted(result["table"], key=lambda row: (row["score"], row["event"])):
        print(
            f"| {row['score']} | {row['event']} | {100 * row['hit_rate']:.0f} % | "
            f"{100 * row['exceed_rate']:.0f} % | {100 * row['exceed_peak_rate']:.0f} % |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo", help="A V-JEPA 2 model with its predictor.")
    parser.add_argument(
        "--world-model",
        default=None,
        help="A V-JEPA 2-AC world model: score with its actions instead.",
    )
    parser.add_argument(
        "--errors",
        type=Path,
        default=None,
        help="With --world-model: the token-errors.npy of an earlier run (same clips and "
        "frames) to score again without the model.",
    )
    parser.add_argument("--clips", type=int, default=50)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument(
        "--context",
        type=int,
        default=None,
        help="Context frames (default 8 for both kinds of model).",
    )
    parser.add_argument("--future", type=int, default=8)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument(
        "--reduce",
        choices=("mean", "max"),
        default="mean",
        help="The masked predictor's reduction over tokens.",
    )
    parser.add_argument(
        "--relative",
        type=int,
        default=8,
        help="Running level: the median of a score and the N before it.",
    )
    parser.add_argument("--policy", choices=("explore", "oracle"), default="explore")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.context = 8 if args.context is None else args.context
    torch.manual_seed(0)
    result = run(args)
    print(json.dumps(result, indent=2))
    print_table(result)


if __name__ == "__main__":
    main()
