"""The two file formats: write a traced program as ``.pt2`` (`torch.export.save`) or ``.onnx``
(the dynamo exporter, ``torch.onnx.export(..., dynamo=True)``), and run a written file again: the
parity check runs what is on disk, not what is in memory.

ONNX needs the ``export`` extra (onnx, onnxscript, onnxruntime), imported inside the functions
that use it: the core installs without it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from torch.export import ExportedProgram

from vjepa2.errors import UsageError
from vjepa2.export.graphs import INPUT_NAME, rename_symbols
from vjepa2.files import atomic_write

# protobuf's limit: larger ONNX models keep their weights in a ``NAME.onnx.data`` file beside.
_ONNX_INLINE_BYTES = 2**31 - 2**26


def require_onnx() -> None:
    """A one-line :class:`UsageError` naming the extra when an ONNX package is missing."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise UsageError(
            f"ONNX export needs {err.name}, which is not installed: pip install 'vjepa2[export]'"
        ) from None


def write_pt2(program: ExportedProgram, path: Path) -> None:
    with atomic_write(path) as tmp, _quiet("torch.export"):
        torch.export.save(program, tmp)  # it would rather see a name ending in .pt2


@torch.no_grad()
def run_pt2(path: Path, pixels: torch.Tensor) -> torch.Tensor:
    """The ``.pt2`` file at ``path``, loaded again and run on ``pixels``."""
    with _quiet("torch.export"):
        program = torch.export.load(path)
    return program.module()(pixels)


def write_onnx(
    program: ExportedProgram,
    example: torch.Tensor,
    path: Path,
    output_name: str,
    dim_names: Mapping[str, str],
    opset: int | None = None,
) -> None:
    """``program`` as ONNX at ``path``; ``dim_names`` renames the tracer's symbols (``s25``) in
    the input and output shapes (``batch``)."""
    with _quiet("torch.onnx"):
        onnx_program = torch.onnx.export(
            program, (example,), dynamo=True, input_names=[INPUT_NAME],
            output_names=[output_name], opset_version=opset, verbose=False,
        )  # fmt: skip
    _name_dims(onnx_program.model, dim_names)
    weight_bytes = sum(t.numel() * t.element_size() for t in program.state_dict.values())
    if weight_bytes > _ONNX_INLINE_BYTES:
        onnx_program.save(path, external_data=True)  # two files: no single atomic rename
        return
    with atomic_write(path) as tmp:
        onnx_program.save(tmp, external_data=False)


def run_onnx(path: Path, pixels: torch.Tensor) -> torch.Tensor:
    """The ``.onnx`` file at ``path`` run by onnxruntime (CPU) on ``pixels``."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {INPUT_NAME: pixels.numpy()})
    return torch.from_numpy(output)


def _name_dims(model, names: Mapping[str, str]) -> None:
    """Rename the symbols in the graph inputs' and outputs' symbolic dims (an onnx_ir model)."""
    from onnxscript import ir

    for value in [*model.graph.inputs, *model.graph.outputs]:
        dims = [d if isinstance(d, int) else rename_symbols(str(d.value), names)
                for d in value.shape]  # fmt: skip
        value.shape = ir.Shape(dims)


@contextlib.contextmanager
def _quiet(package: str) -> Iterator[None]:
    """Silence a torch exporter's notices (optional torchvision ops skipped, a temporary file's
    name, deprecations inside torch): they are not the user's business."""
    logger = logging.getLogger(package)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=re.escape(package) + r"\b")
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        logger.setLevel(level)
