"""The GPU suite: speed, memory and MFU of ours against transformers, in one command.

    python benchmarks/gpu_suite.py --out gpu-results            # on a GPU: ~5-8 min on an H100
    python benchmarks/gpu_suite.py --smoke --out /tmp/smoke     # tiny shapes, CPU, ~1 min

Sections (each one runs even if an earlier one failed; a failure is recorded, not fatal):
- ``encoder``: ViT-L forward at 16 x 256 px, batch 1 and 8, fp32 / bf16 / fp16, ours vs
  transformers' ``VJEPA2Model`` (sdpa) on the same weights, timed runs alternating; ours under
  ``torch.compile`` (compile time reported). Outputs are compared first (fp32: max abs error;
  half precision: cosine similarity of the token features against fp32).
- ``mfu``: model FLOPs of the forward / median time / the card's dense bf16 peak.
- ``memory``: peak ``torch.cuda.max_memory_allocated`` of one ViT-L forward on 64 x 256 px.
- ``embed``: ``embed_videos`` on generated H.264 files vs the model alone on preprocessed clips.
- ``probe``: attentive-probe training on cached ViT-L features, epochs per second.
- ``ac``: the V-JEPA 2-AC predictor at the released vitg-ac shapes (random weights): one
  teacher-forcing + rollout training step on cached encodings (bf16 autocast, AdamW), and one
  CEM plan (horizon 2, 400 samples, 10 iterations), time and peak memory.

Every result is appended to ``OUT/results.jsonl`` as soon as it is measured and the whole run
is summarised in ``OUT/results.md``. Half-precision runs cast weights and input to the dtype
(how inference is usually run) for both implementations.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

import vjepa2
from common import DTYPES, alternate, machine, model_pair
from vjepa2.data.clip_pipeline import ClipSpec, read_clips
from vjepa2.inference.embed import embed_forward, embed_videos
from vjepa2.models import AttentiveClassifier
from vjepa2.video.synthetic import signature_frames
from vjepa2.video.writer import encode_video
from vjepa2.world_model import ACPredictorConfig, VJEPA2ACConfig, WorldModel, vitg_ac_config

# Dense (no sparsity) bf16 tensor-core peaks, TFLOP/s, from the vendors' data sheets.
PEAK_BF16_TFLOPS = {"H100 80GB HBM3": 989.0, "H100": 989.0, "H200": 989.0, "A100": 312.0}


@dataclass
class Shapes:
    """What one run of the suite measures: full sizes on a GPU, tiny ones with ``--smoke``."""

    preset: str = "vitl"
    layers: int | None = None
    frames: int = 16
    size: int = 256
    batches: tuple[int, ...] = (1, 8)
    long_frames: int = 64
    repeats: int = 10
    embed_videos: int = 64
    embed_batch: int = 8
    probe_clips: int = 512
    probe_epochs: int = 3
    probe_dim: int | None = None  # None: the preset's width
    embed_workers: tuple[int, ...] = (4, 8)
    ac_batch: int = 4
    ac_frames: int = 8
    ac_samples: int = 400

    @classmethod
    def smoke(cls) -> Shapes:
        return cls(layers=1, frames=4, size=64, batches=(1, 2), long_frames=8, repeats=2,
                   embed_videos=4, embed_batch=2, probe_clips=16, probe_epochs=1,
                   embed_workers=(1,), probe_dim=96, ac_batch=2, ac_frames=4,
                   ac_samples=16)  # fmt: skip


class Recorder:
    """Appends each result to ``results.jsonl`` and keeps the markdown rows for the summary."""

    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.rows: dict[str, list[str]] = {}
        self.jsonl = out / "results.jsonl"

    def add(self, section: str, row: str, **result) -> None:
        record = {"section": section, **result}
        with self.jsonl.open("a") as f:
            f.write(json.dumps(record, default=str) + "\n")
        self.rows.setdefault(section, []).append(row)
        print(f"[{section}] {row}", flush=True)

    def write_markdown(self, header: str, tables: dict[str, str]) -> Path:
        lines = [header, ""]
        for section, rows in self.rows.items():
            lines += [f"## {section}", "", tables.get(section, ""), *rows, ""]
        path = self.out / "results.md"
        path.write_text("\n".join(lines))
        return path


TABLES = {
    "encoder": "| batch | dtype | transformers ms | vjepa2 ms | speed-up | check |\n"
    "|---|---|---|---|---|---|",
    "compile": "| batch | dtype | compile s | eager ms | compiled ms | vs transformers | check |\n"
    "|---|---|---|---|---|---|---|",
    "mfu": "| run | GFLOP per forward | ms | TFLOP/s | MFU |\n|---|---|---|---|---|",
    "memory": "| frames | dtype | transformers GiB | vjepa2 GiB |\n|---|---|---|---|",
    "embed": "| run | seconds | videos/s | of model-only |\n|---|---|---|---|",
    "probe": "| probe | clips | epochs/s | ms/step |\n|---|---|---|---|",
    "ac": "| step | shape | ms | peak GiB |\n|---|---|---|---|",
    "errors": "",
}


def encoder_flops(config, batch: int, frames: int, size: int) -> float:
    """Forward FLOPs of the encoder (2 per multiply-add): patch embedding, blocks, attention."""
    n = (frames // config.tubelet_size) * (size // config.patch_size) ** 2
    d, hidden = config.hidden_size, int(config.hidden_size * config.mlp_ratio)
    patch = 2 * n * d * 3 * config.tubelet_size * config.patch_size**2
    per_layer = 2 * n * (4 * d * d + 2 * d * hidden) + 4 * n * n * d
    return batch * (patch + config.num_hidden_layers * per_layer)


def compare(ours: torch.Tensor, theirs: torch.Tensor, reference: torch.Tensor) -> str:
    """Max abs error vs theirs, and cosine similarity of ours against the fp32 reference."""
    err = (ours.float() - theirs.float()).abs().max().item()
    cos = torch.nn.functional.cosine_similarity(
        ours.float().flatten(1), reference.float().flatten(1), dim=1
    ).min()
    return f"max abs {err:.1e}, cos vs fp32 {cos.item():.5f}"


def bench_encoder(rec: Recorder, shapes: Shapes, device: str) -> dict:
    """Eager ours vs theirs for every batch and dtype (the models stay for the compile section)."""
    ours, theirs, config = model_pair(shapes.preset, False, device, shapes.layers, shapes.size)
    result: dict = {"config": config, "timings": {}, "models": (ours, theirs), "inputs": {}}
    for batch in shapes.batches:
        x32 = torch.randn(batch, shapes.frames, 3, shapes.size, shapes.size, device=device)
        ours.to(torch.float32)
        with torch.inference_mode():
            reference = ours(x32).last_hidden_state
        result["inputs"][batch] = (x32, reference)
        for name, dtype in DTYPES.items():
            result["timings"][(batch, name)] = _time_pair(
                rec, ours, theirs, x32, dtype, reference, shapes
            )
    return result


def bench_compile(rec: Recorder, shapes: Shapes, result: dict) -> None:
    """Ours under torch.compile in bf16, for every batch, against eager and transformers."""
    ours, theirs = result["models"]
    for x32, reference in result["inputs"].values():
        _time_compiled(rec, ours, theirs, x32, reference, shapes, result["timings"])


def _time_pair(rec, ours, theirs, x32, dtype, reference, shapes) -> dict:
    ours.to(dtype), theirs.to(dtype)
    x = x32.to(dtype)
    with torch.inference_mode():
        check = compare(ours(x).last_hidden_state, theirs.get_vision_features(x), reference)
        runs = {"transformers": lambda: theirs.get_vision_features(x),
                "vjepa2": lambda: ours(x).last_hidden_state}  # fmt: skip
        t = alternate(runs, x.device.type, warmup=2, repeats=shapes.repeats)
    a, b = t["transformers"].median, t["vjepa2"].median
    name = next(k for k, v in DTYPES.items() if v == dtype)
    rec.add("encoder", f"| {x.shape[0]} | {name} | {a * 1e3:.1f} | {b * 1e3:.1f} | "
            f"**{a / b:.2f}×** | {check} |", batch=x.shape[0], dtype=name,
            transformers_s=t["transformers"].seconds, vjepa2_s=t["vjepa2"].seconds,
            check=check)  # fmt: skip
    return {"transformers": a, "vjepa2": b}


def _time_compiled(rec, ours, theirs, x32, reference, shapes, best) -> None:
    dtype, batch = torch.bfloat16, x32.shape[0]
    ours.to(dtype), theirs.to(dtype)
    x = x32.to(dtype)
    compiled = torch.compile(ours)
    with torch.inference_mode():
        start = time.perf_counter()
        out = compiled(x).last_hidden_state
        _sync(x.device.type)
        compile_s = time.perf_counter() - start
        check = compare(out, theirs.get_vision_features(x), reference)
        runs = {"eager": lambda: ours(x).last_hidden_state,
                "compiled": lambda: compiled(x).last_hidden_state}  # fmt: skip
        t = alternate(runs, x.device.type, warmup=2, repeats=shapes.repeats)
    eager, fast = t["eager"].median, t["compiled"].median
    theirs_s = best[(batch, "bf16")]["transformers"]
    best[(batch, "bf16-compiled")] = {"transformers": theirs_s, "vjepa2": fast}
    rec.add("compile", f"| {batch} | bf16 | {compile_s:.1f} | {eager * 1e3:.1f} | "
            f"{fast * 1e3:.1f} | **{theirs_s / fast:.2f}×** | {check} |", batch=batch,
            compile_s=compile_s, eager_s=t["eager"].seconds,
            compiled_s=t["compiled"].seconds, check=check)  # fmt: skip


def report_mfu(rec: Recorder, shapes: Shapes, result: dict, device: str) -> None:
    config, timings = result["config"], result["timings"]
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    for (batch, dtype), t in timings.items():
        if "bf16" not in dtype:
            continue
        flops = encoder_flops(config, batch, shapes.frames, shapes.size)
        for impl, seconds in t.items():
            tflops = flops / seconds / 1e12
            mfu = f"{tflops / peak:.1%}" if peak else "n/a (unknown peak)"
            rec.add("mfu", f"| {impl}, batch {batch}, {dtype} | {flops / 1e9:.0f} | "
                    f"{seconds * 1e3:.1f} | {tflops:.1f} | {mfu} |", impl=impl, batch=batch,
                    dtype=dtype, flops=flops, seconds=seconds, peak_tflops=peak)  # fmt: skip


def bench_memory(rec: Recorder, shapes: Shapes, device: str) -> None:
    """Peak memory of one long-clip forward, weights excluded, for both implementations."""
    ours, theirs, _ = model_pair(shapes.preset, False, device, shapes.layers, shapes.size)
    for name in ("bf16", "fp32"):
        dtype = DTYPES[name]
        ours.to(dtype), theirs.to(dtype)
        x = torch.randn(1, shapes.long_frames, 3, shapes.size, shapes.size, device=device)
        x = x.to(dtype)
        peaks = {}
        for impl, fn in (("transformers", lambda x=x: theirs.get_vision_features(x)),
                         ("vjepa2", lambda x=x: ours(x).last_hidden_state)):  # fmt: skip
            peaks[impl] = _peak_bytes(fn, device)
        rec.add("memory", f"| {shapes.long_frames} | {name} | "
                f"{peaks['transformers'] / 2**30:.2f} | {peaks['vjepa2'] / 2**30:.2f} |",
                frames=shapes.long_frames, dtype=name, **peaks)  # fmt: skip


def _peak_bytes(fn: Callable[[], object], device: str, inference: bool = True) -> int:
    """Peak bytes above what was allocated before the call (CUDA only; 0 on the CPU)."""
    if device != "cuda":
        with torch.inference_mode(inference):
            fn()
        return 0
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with torch.inference_mode(inference):
        out = fn()
    torch.cuda.synchronize()
    del out
    return torch.cuda.max_memory_allocated() - base


def bench_embed(rec: Recorder, shapes: Shapes, device: str, workdir: Path) -> None:
    """embed_videos (decode in workers + model + write) vs the model alone, bf16."""
    config = vjepa2.get_preset(shapes.preset).config().replace(id2label=None)
    if shapes.layers:
        config = config.replace(num_hidden_layers=shapes.layers)
    config = config.replace(crop_size=shapes.size, frames_per_clip=shapes.frames)
    with torch.device(device):
        model = vjepa2.VJEPA2Model(config, with_predictor=False).eval().to(torch.bfloat16)
    paths = _make_videos(workdir / "videos", shapes)
    spec = ClipSpec.for_model(config)
    clips = torch.cat([read_clips(p, spec).pixels.flatten(0, 1) for p in paths])
    forward = embed_forward(model, tokens=False)

    def model_only() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            for chunk in clips.split(shapes.embed_batch):
                forward(chunk.to(device, torch.bfloat16))
        _sync(device)
        return time.perf_counter() - start

    def end_to_end(workers: int) -> float:
        with tempfile.TemporaryDirectory(dir=workdir) as out:
            start = time.perf_counter()
            embed_videos(model, paths, out, spec, batch_size=shapes.embed_batch,
                         workers=workers, dtype=torch.bfloat16, progress=False)  # fmt: skip
            return time.perf_counter() - start

    model_only()
    results = {"model only": model_only()}
    for workers in shapes.embed_workers:
        results[f"embed, workers {workers}"] = end_to_end(workers)
    for name, seconds in results.items():
        share = results["model only"] / seconds
        rec.add("embed", f"| {name} | {seconds:.2f} | {len(paths) / seconds:.1f} | {share:.0%} |",
                run=name, seconds=seconds, videos=len(paths))  # fmt: skip


def _make_videos(folder: Path, shapes: Shapes) -> list[Path]:
    """Short H.264 files a bit larger than the crop (4:3), twice the clip's frames."""
    folder.mkdir(parents=True, exist_ok=True)
    height = shapes.size * 5 // 4
    paths = []
    for i in range(shapes.embed_videos):
        path = folder / f"v{i:03d}.mp4"
        frames = signature_frames(shapes.frames * 2, height, height * 4 // 3, start=i)
        paths.append(encode_video(path, frames, fps=30, options={"preset": "veryfast"}))
    return paths


def bench_probe(rec: Recorder, shapes: Shapes, device: str) -> None:
    """The recipe's 4-block attentive probe trained on cached ViT-L-sized features, bf16."""
    config = vjepa2.get_preset(shapes.preset).config()
    tokens = (shapes.frames // 2) * (shapes.size // 16) ** 2
    dim, batch = shapes.probe_dim or config.hidden_size, min(32, shapes.probe_clips)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    features = torch.randn(shapes.probe_clips, tokens, dim, dtype=dtype, device=device)
    labels = torch.randint(0, 174, (shapes.probe_clips,), device=device)
    probe = AttentiveClassifier(dim, 174, num_heads=16, num_self_blocks=3).to(device)
    optimizer = torch.optim.AdamW(probe.parameters(), lr=1e-4)
    steps = 0

    def epoch() -> None:
        nonlocal steps
        for index in torch.randperm(shapes.probe_clips, device=device).split(batch):
            with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
                loss = torch.nn.functional.cross_entropy(probe(features[index]), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1

    epoch()
    _sync(device)
    start, steps = time.perf_counter(), 0
    for _ in range(shapes.probe_epochs):
        epoch()
    _sync(device)
    seconds = time.perf_counter() - start
    rec.add("probe", f"| 4 blocks, 16 heads, batch {batch}, {tokens} tokens | "
            f"{shapes.probe_clips} | {shapes.probe_epochs / seconds:.2f} | "
            f"{seconds / steps * 1e3:.1f} |", epochs_per_s=shapes.probe_epochs / seconds,
            clips=shapes.probe_clips, tokens=tokens)  # fmt: skip


def ac_config(smoke: bool) -> VJEPA2ACConfig:
    """The released vitg-ac architecture, or a tiny one for --smoke."""
    if not smoke:
        return vitg_ac_config()
    encoder = (
        vjepa2.get_preset("vitl")
        .config()
        .replace(
            id2label=None, hidden_size=96, num_hidden_layers=1, num_attention_heads=3, crop_size=64
        )
    )
    predictor = ACPredictorConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4)
    return VJEPA2ACConfig(encoder=encoder, predictor=predictor)


def bench_ac(rec: Recorder, shapes: Shapes, device: str, smoke: bool) -> None:
    """A training step of the AC predictor on cached encodings, and one CEM plan."""
    config = ac_config(smoke)
    with torch.device(device):
        wm = WorldModel(config)
    wm.encoder.requires_grad_(False)
    n, dim = wm.tokens_per_frame, config.encoder.hidden_size
    b, t = shapes.ac_batch, shapes.ac_frames
    g = torch.Generator(device=device).manual_seed(0)
    h = torch.nn.functional.layer_norm(torch.randn(b, t * n, dim, device=device, generator=g),
                                       (dim,))  # fmt: skip
    actions = 0.02 * torch.randn(b, t - 1, 7, device=device, generator=g)
    states = 0.1 * torch.randn(b, t, 7, device=device, generator=g)
    optimizer = torch.optim.AdamW(wm.predictor.parameters(), lr=1e-4)
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda")

    def train_step() -> None:
        with autocast:
            tf, ar = wm.losses(h, actions, states, rollout_steps=2)
        (tf + ar).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def plan() -> None:
        with torch.inference_mode(), autocast:
            wm.plan_from_encodings(h[0, :n], h[0, -n:], states[0, 0], seed=0,
                                   samples=shapes.ac_samples)  # fmt: skip

    for name, fn, shape in (
        ("teacher forcing + 2-step rollout, fwd+bwd+AdamW", train_step,
         f"batch {b}, {t} frames x {n} tokens"),
        ("CEM plan (10 iterations)", plan,
         f"horizon 2, {shapes.ac_samples} samples, {n} tokens per frame"),
    ):  # fmt: skip
        fn()
        peak = _peak_bytes(fn, device, inference=False)
        seconds = _median_seconds(fn, device, repeats=3)
        rec.add("ac", f"| {name} | {shape} | {seconds * 1e3:.0f} | {peak / 2**30:.1f} |",
                step=name, seconds=seconds, peak_bytes=peak)  # fmt: skip


def _median_seconds(fn: Callable[[], object], device: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def run_section(rec: Recorder, name: str, fn: Callable[[], object], deadline: float):
    """Run one section unless the time budget is spent; record a failure instead of raising."""
    if time.monotonic() > deadline:
        rec.add("errors", f"- {name}: skipped, the time budget was spent", name=name)
        return None
    start = time.monotonic()
    try:
        result = fn()
    except Exception as exc:  # a failed section must not lose the others
        rec.add("errors", f"- {name}: {type(exc).__name__}: {exc}", name=name,
                traceback=traceback.format_exc())  # fmt: skip
        return None
    print(f"[{name}] done in {time.monotonic() - start:.0f} s", flush=True)
    return result


SECTIONS = ("encoder", "memory", "embed", "probe", "ac", "compile", "mfu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for results")
    parser.add_argument("--smoke", action="store_true", help="tiny shapes, any device")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="run only these (compile and mfu need encoder)")  # fmt: skip
    parser.add_argument("--budget-s", type=float, default=480, help="skip sections after this")
    args = parser.parse_args()

    shapes = Shapes.smoke() if args.smoke else Shapes()
    rec, deadline = Recorder(args.out), time.monotonic() + args.budget_s
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 rows measure true fp32
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    wanted, encoder = set(args.sections) - ({"compile"} if args.no_compile else set()), None

    def section(name: str, fn: Callable[[], object]) -> object:
        return run_section(rec, name, fn, deadline) if name in wanted else None

    encoder = section("encoder", lambda: bench_encoder(rec, shapes, args.device))
    section("memory", lambda: bench_memory(rec, shapes, args.device))
    with tempfile.TemporaryDirectory() as work:
        section("embed", lambda: bench_embed(rec, shapes, args.device, Path(work)))
    section("probe", lambda: bench_probe(rec, shapes, args.device))
    section("ac", lambda: bench_ac(rec, shapes, args.device, args.smoke))
    if encoder:
        section("compile", lambda: bench_compile(rec, shapes, encoder))
        section("mfu", lambda: report_mfu(rec, shapes, encoder, args.device))
    info = machine() | {"started": started, "smoke": args.smoke, "shapes": vars(shapes)}
    header = f"# GPU suite\n\n```\n{json.dumps(info, indent=1, default=str)}\n```"
    print(rec.write_markdown(header, TABLES).read_text())
    if "errors" in rec.rows:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
