"""Where the GPU time of our encoder goes: SDPA backends and a kernel profile.

    python benchmarks/gpu_profile.py --out gpu-profile            # ViT-L, 16 x 256, batch 8, bf16
    python benchmarks/gpu_profile.py --smoke --out /tmp/profile   # tiny shapes, CPU

For each SDPA backend PyTorch offers on the card (flash, cuDNN, memory-efficient) it times the
eager forward and reports TFLOP/s and MFU (the FLOP count of benchmarks/gpu_suite.py), then
profiles one forward with the default backend and lists the kernels that take the time.
Results go to ``OUT/profile.md`` and ``OUT/profile.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

import vjepa2
from gpu_suite import PEAK_BF16_TFLOPS, encoder_flops

BACKENDS = {
    "default": None,
    "flash": SDPBackend.FLASH_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
}


def median_seconds(fn, device: str, repeats: int) -> float:
    times = []
    for _ in range(repeats + 2):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times[2:])[len(times[2:]) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    layers, frames, size, batch, repeats = (
        (1, 4, 64, 2, 2) if args.smoke else (None, 16, 256, 8, 10)
    )
    dtype = torch.bfloat16 if args.device == "cuda" else torch.float32

    config = vjepa2.get_preset("vitl").config().replace(id2label=None, crop_size=size)
    if layers:
        config = config.replace(num_hidden_layers=layers)
    with torch.device(args.device):
        model = vjepa2.VJEPA2Model(config, with_predictor=False).eval().to(dtype)
    x = torch.randn(batch, frames, 3, size, size, device=args.device, dtype=dtype)
    flops = encoder_flops(config, batch, frames, size)
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)

    args.out.mkdir(parents=True, exist_ok=True)
    rows = ["| backend | ms | TFLOP/s | MFU |", "|---|---|---|---|"]
    records = []
    for label, backend in BACKENDS.items():
        try:
            with torch.inference_mode(), sdpa_kernel(backend) if backend else nullcontext():
                seconds = median_seconds(lambda: model(x), args.device, repeats)
        except RuntimeError as exc:
            rows.append(f"| {label} | not available: {str(exc).splitlines()[0][:80]} | | |")
            continue
        tflops = flops / seconds / 1e12
        mfu = f"{tflops / peak:.1%}" if peak else "n/a"
        rows.append(f"| {label} | {seconds * 1e3:.1f} | {tflops:.1f} | {mfu} |")
        records.append({"backend": label, "seconds": seconds, "tflops": tflops})
        print(rows[-1], flush=True)

    activities = [torch.profiler.ProfilerActivity.CPU]
    if args.device == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.inference_mode(), torch.profiler.profile(activities=activities) as prof:
        model(x)
        if args.device == "cuda":
            torch.cuda.synchronize()
    sort = "cuda_time_total" if args.device == "cuda" else "cpu_time_total"
    table = prof.key_averages().table(sort_by=sort, row_limit=20, max_name_column_width=60)
    text = "\n".join([f"# Encoder profile on {name}", "", *rows, "", "```", table, "```", ""])
    (args.out / "profile.md").write_text(text)
    with (args.out / "profile.jsonl").open("w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    print(text)


if __name__ == "__main__":
    main()
