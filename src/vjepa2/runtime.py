"""Devices, precision and processes: auto-pick cuda > mps > cpu, the matching autocast context,
where this process sits in a ``torchrun`` job, and ``torch.compile`` on demand."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from vjepa2.errors import UsageError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DEVICE_TYPES = ("auto", "cpu", "cuda", "mps")
DEFAULT_WORKERS = min(4, max(1, (os.cpu_count() or 2) // 2))  # decoding processes


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` -> cuda if available, else mps, else cpu; otherwise the named device
    (``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""
    if name != "auto":
        device = parse_device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise UsageError("--device mps: MPS is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def parse_device(name: str) -> torch.device:
    """``name`` as a torch device of a type we run on (``auto`` stands for the CPU here); a
    :class:`UsageError` otherwise."""
    if name == "auto":
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in DEVICE_TYPES:
        raise UsageError(f"--device {name!r}: choose auto, cpu, cuda, cuda:N or mps")
    return device


def parse_dtype(name: str) -> torch.dtype:
    try:
        return DTYPES[name]
    except KeyError:
        raise UsageError(f"unknown dtype {name!r}; choose from {', '.join(DTYPES)}") from None


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """Mixed precision for ``dtype`` on ``device`` (a no-op for float32)."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


@dataclass
class Distributed:
    """Where this process sits in a torchrun job (rank 0 of 1 without one)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` averaged over the processes (itself without torchrun)."""
        if self.enabled:
            dist.all_reduce(values)
            values /= self.world_size
        return values

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def any(self, flag: bool) -> bool:
        """True on every process when ``flag`` is True on any (itself without torchrun)."""
        if not self.enabled:
            return flag
        device = torch.device("cuda", self.local_rank) if dist.get_backend() == "nccl" else None
        value = torch.tensor(float(flag), device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())


def init_distributed(device_name: str) -> tuple[Distributed, torch.device]:
    """Join the torchrun process group (gloo on CPU, nccl on CUDA) when launched under it."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Distributed(), pick_device(device_name)
    info = Distributed(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", 0)))
    device = pick_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(_leave_group)
    return info, device


def _leave_group() -> None:
    """Destroy the process group while the interpreter is still whole: left to the interpreter's
    teardown, gloo's worker threads can abort the process (SIGABRT, "terminate called without an
    active exception") after the run has finished and saved everything."""
    if dist.is_initialized():
        dist.destroy_process_group()


COMPILE_HELP = (
    "Compile the model with torch.compile (off by default) and report the compile time (its "
    "first call). Pays off on a GPU over many clips; on the CPU it gains little and compiling "
    "takes minutes."
)


def maybe_compile(
    module: nn.Module,
    enabled: bool,
    name: str = "model",
    report: Callable[[str], None] | None = None,
) -> nn.Module:
    """``module`` itself, its ``forward`` compiled with ``torch.compile`` when ``enabled``.

    In place: the same object with the same ``state_dict`` keys (checkpoints and fingerprints do
    not change), its hooks still run eagerly. Shapes are compiled dynamic, so another batch size
    or mask size reuses the compiled code (a dimension of size 1, e.g. a last batch of one
    clip, compiles once more). The first call's time, the compilation plus one run, goes to
    ``report`` (default: a line on stderr that keeps clear of progress bars).
    """
    if not enabled:
        return module
    compiled = torch.compile(module.forward, dynamic=True)
    module.forward = _CompileTimer(compiled, name, report or _to_stderr)
    return module


class _CompileTimer:
    """Calls ``compiled``; reports how long its first call took."""

    def __init__(self, compiled: Callable[..., Any], name: str, report: Callable[[str], None]):
        self.compiled, self.name, self.report = compiled, name, report
        self.timed = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.timed:
            return self.compiled(*args, **kwargs)
        start = time.perf_counter()
        out = self.compiled(*args, **kwargs)
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
        self.timed = True
        self.report(f"torch.compile: compiled the {self.name} in "
                    f"{time.perf_counter() - start:.1f} s (its first call)")  # fmt: skip
        return out


def _to_stderr(message: str) -> None:
    tqdm.write(message, file=sys.stderr)
