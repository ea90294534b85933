"""Shared benchmark helpers: identical weights in ours and transformers, alternating timed runs,
medians, peak memory, and a machine description for docs/benchmarks.md."""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

import vjepa2
from vjepa2.presets import get_preset

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def machine() -> dict:
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
    }
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def model_pair(
    preset: str,
    classifier: bool,
    device: str,
    num_layers: int | None = None,
    crop_size: int | None = None,
):
    """Our model and transformers' with the same random weights, via our HF-format save."""
    import transformers

    config = get_preset(preset).config()
    if not classifier and config.is_classifier:
        config = config.replace(id2label=None)
    if classifier and not config.is_classifier:
        config = config.replace(id2label={i: f"class{i}" for i in range(174)})
    if num_layers:
        config = config.replace(num_hidden_layers=num_layers)
    if crop_size:
        # transformers derives RoPE positions from config.crop_size (the original from the input)
        config = config.replace(crop_size=crop_size)
    torch.manual_seed(0)
    with torch.device(device):
        model = vjepa2.build_model(config)
    backbone = model.backbone if classifier else model
    backbone.reset_parameters()
    with tempfile.TemporaryDirectory() as tmp:
        vjepa2.save(model, tmp)
        del model
        ours = vjepa2.load(tmp, device=device)
        cls = transformers.VJEPA2ForVideoClassification if classifier else transformers.VJEPA2Model
        theirs = cls.from_pretrained(tmp, attn_implementation="sdpa").to(device).eval()
    return ours, theirs, config


class PeakMemory:
    """Peak device memory (CUDA) or peak resident-set growth (CPU, sampled) during a block."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.peak_bytes = 0

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    @contextmanager
    def measure(self):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            yield
            torch.cuda.synchronize()
            self.peak_bytes = max(self.peak_bytes, torch.cuda.max_memory_allocated() - base)
            return
        base, peak, stop = self._rss(), [0], threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], self._rss() - base)
                time.sleep(0.002)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.peak_bytes = max(self.peak_bytes, peak[0], self._rss() - base)


@dataclass
class Timing:
    name: str
    seconds: list[float] = field(default_factory=list)
    peak_bytes: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def alternate(
    runs: dict[str, Callable[[], object]], device: str, warmup: int, repeats: int
) -> dict[str, Timing]:
    """Time each callable ``repeats`` times, interleaved (A B A B ...) after ``warmup`` rounds."""
    timings = {name: Timing(name) for name in runs}
    memory = {name: PeakMemory(device) for name in runs}
    for _ in range(warmup):
        for name, fn in runs.items():
            with memory[name].measure():
                fn()
    for _ in range(repeats):
        for name, fn in runs.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            timings[name].seconds.append(time.perf_counter() - start)
    for name in runs:
        timings[name].peak_bytes = memory[name].peak_bytes
    return timings


def report(title: str, timings: dict[str, Timing], unit: str, items: float, extra: dict) -> dict:
    """Print a small table: median time, throughput, peak memory, speed-up over the first entry."""
    names = list(timings)
    base = timings[names[0]].median
    print(f"\n{title}")
    print(f"{'':14}{'median s':>10}{unit + '/s':>12}{'peak MiB':>10}{'speed-up':>10}")
    for name in names:
        t = timings[name]
        print(
            f"{name:14}{t.median:10.4f}{items / t.median:12.2f}"
            f"{t.peak_bytes / 2**20:10.0f}{base / t.median:9.2f}x"
        )
    result = {
        "title": title,
        **extra,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "results": {n: asdict(t) | {"median": t.median} for n, t in timings.items()},
    }
    out = os.environ.get("VJEPA2_BENCH_JSON")
    if out:
        with Path(out).open("a") as f:
            f.write(json.dumps(result) + "\n")
    return result
