"""`export_model`: trace each part once with ``torch.export``, write it as ``.pt2`` and/or
``.onnx``, write ``preprocessing.json``, and check every written file against eager PyTorch at a
batch size and clip length other than the traced ones."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.export import ExportedProgram

from vjepa2.errors import UsageError, VJEPA2Error
from vjepa2.export import formats
from vjepa2.export.graphs import (
    FORMATS,
    PARTS,
    check_input,
    clip_input,
    default_parts,
    dynamic_shapes,
    part_graph,
    rename_symbols,
)
from vjepa2.export.preprocessing import Range, preprocessing_record, write_preprocessing
from vjepa2.models.model import VJEPA2ForVideoClassification, VJEPA2Model


class ExportParityError(VJEPA2Error):
    """A written file whose output differs from eager PyTorch's by more than the tolerance."""


@dataclass(frozen=True)
class ExportOptions:
    """How `export_model` exports (``vjepa2 export --help`` says the same).

    Attributes:
        parts: ``encoder`` and/or ``classifier``; empty: the model's own output (the classifier
            of a classifier, else the encoder).
        formats: ``pt2`` and/or ``onnx``.
        frames: the traced example's clip length (default: the checkpoint's frames per clip);
            with ``dynamic_frames`` at least two tubelets.
        batch_size: the traced example's batch size (2: a batch of 1 would fix the size).
        dynamic_frames: the clip length is dynamic (in whole tubelets), else fixed at ``frames``.
        tolerance: the largest max-abs difference from PyTorch a file may show (float32).
        opset: the ONNX opset (default: the exporter's).
    """

    parts: tuple[str, ...] = ()
    formats: tuple[str, ...] = FORMATS
    frames: int | None = None
    batch_size: int = 2
    dynamic_frames: bool = True
    tolerance: float = 1e-4
    opset: int | None = None


@dataclass(frozen=True)
class ExportedFile:
    """One written file and its parity check.

    Attributes:
        seconds: time to convert and write it (``.pt2``: includes tracing, ONNX: after it).
        max_abs_error: largest absolute difference from eager PyTorch on the check input.
        check_shape: the check input's shape ``[B, T, C, H, W]``.
    """

    part: str
    format: str
    path: Path
    seconds: float
    max_abs_error: float
    check_shape: tuple[int, ...]


def export_model(
    model: nn.Module,
    out: str | Path,
    options: ExportOptions | None = None,
    model_name: str = "model",
    report: Callable[[ExportedFile], None] | None = None,
) -> list[ExportedFile]:
    """Export ``model`` (float32, on the CPU; put in eval mode) into the folder ``out``:
    ``{part}.pt2`` / ``{part}.onnx`` per part and format, and ``preprocessing.json``.

    Each file is loaded again and run on an input of another batch size (and clip length) than
    the traced example; ``report`` gets each file as it is checked. Raises
    :class:`ExportParityError` naming the files beyond ``options.tolerance`` (kept in ``out``
    for inspection).
    """
    options = options or ExportOptions()
    parts = options.parts or default_parts(model)
    frames = _check(model, options, parts)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[ExportedFile] = []
    outputs: dict[str, dict[str, Any]] = {}
    for part in parts:
        graph = part_graph(model, part)
        files, ranges, outputs[part] = _export_part(graph, part, frames, out, options, report)
        written += files
    record = preprocessing_record(model.config, frames, ranges, outputs, model_name)
    write_preprocessing(out, record)
    failed = [f for f in written if not f.max_abs_error <= options.tolerance]
    if failed:
        worst = ", ".join(f"{f.path.name} {f.max_abs_error:.2e}" for f in failed)
        raise ExportParityError(
            f"parity check failed: {worst} > {options.tolerance:g} max abs difference from "
            f"PyTorch (the files are kept in {out} for inspection)"
        )
    return written


def _check(model: nn.Module, options: ExportOptions, parts: tuple[str, ...]) -> int:
    """The example's clip length, after checking the options against the model."""
    if not isinstance(model, (VJEPA2Model, VJEPA2ForVideoClassification)):
        raise UsageError(
            f"export takes a V-JEPA 2 encoder or classifier, not a {type(model).__name__}"
        )
    for name, values, allowed in (("part", parts, PARTS), ("format", options.formats, FORMATS)):
        unknown = [v for v in values if v not in allowed]
        if unknown or not values:
            raise UsageError(f"--{name} {','.join(unknown)!r}: choose from {', '.join(allowed)}")
    weight = next(model.parameters())
    if weight.dtype != torch.float32 or weight.device.type != "cpu":
        raise UsageError(
            f"export a float32 model on the CPU, not {weight.dtype} on {weight.device}"
        )
    if "onnx" in options.formats:
        formats.require_onnx()
    if options.batch_size < 2:
        raise UsageError("the example batch must be 2 or more: a batch of 1 would fix the size")
    tubelet = model.config.tubelet_size
    frames = options.frames or model.config.frames_per_clip
    least = 2 * tubelet if options.dynamic_frames else tubelet
    if frames % tubelet or frames < least:
        raise UsageError(
            f"--frames {frames}: a multiple of the tubelet size {tubelet}, at least {least}"
            + (" (dynamic frames are traced on two tubelets or more)" if least > tubelet else "")
        )
    return frames


def _export_part(
    graph: nn.Module,
    part: str,
    frames: int,
    out: Path,
    options: ExportOptions,
    report: Callable[[ExportedFile], None] | None,
) -> tuple[list[ExportedFile], dict[str, Range], dict[str, Any]]:
    """Trace ``graph``, write and check each format; returns the files, the input's dynamic
    ranges and the part's entry of ``preprocessing.json``."""
    config = graph.config
    example = clip_input(config, options.batch_size, frames)
    start = time.perf_counter()
    # Traced with grad on: under no_grad the blocks add their MLP in place a chunk at a time,
    # a loop over a split of the token count that would pin the count.
    with torch.enable_grad():
        program = torch.export.export(
            graph, (example,), dynamic_shapes=dynamic_shapes(config, options.dynamic_frames)
        )
    trace_seconds = time.perf_counter() - start
    pixels = check_input(config, example, options.dynamic_frames)
    with torch.no_grad():
        expected = graph(pixels)
    files = []
    for fmt in options.formats:
        path = out / f"{part}.{fmt}"
        start = time.perf_counter()
        if fmt == "pt2":
            formats.write_pt2(program, path)
            seconds = trace_seconds + time.perf_counter() - start
            actual = formats.run_pt2(path, pixels)
        else:
            formats.write_onnx(program, example, path, graph.output_name,
                               dim_names(program), options.opset)  # fmt: skip
            seconds = time.perf_counter() - start
            actual = formats.run_onnx(path, pixels)
        error = (actual - expected).abs().max().item()
        files.append(ExportedFile(part, fmt, path, seconds, error, tuple(pixels.shape)))
        if report is not None:
            report(files[-1])
    sizes = _input_sizes(program)
    entry = {"files": [f.path.name for f in files], "name": graph.output_name,
             "shape": _output_shape(program, dim_names(program))}  # fmt: skip
    return files, {"batch": _bounds(program, sizes[0]), "frames": _bounds(program, sizes[1])}, entry


def dim_names(program: ExportedProgram) -> dict[str, str]:
    """The tracer's symbols of the input's dynamic dims -> ``batch``, ``tubelets`` (``frames``
    with a tubelet of one frame)."""
    names = {}
    batch, frames = _input_sizes(program)[:2]
    if isinstance(batch, torch.SymInt):
        names[str(batch.node.expr)] = "batch"
    if isinstance(frames, torch.SymInt):
        expr = frames.node.expr
        (symbol,) = expr.free_symbols
        names[str(symbol)] = "frames" if expr == symbol else "tubelets"
    return names


def _input_sizes(program: ExportedProgram) -> tuple:
    (name,) = program.graph_signature.user_inputs
    node = next(n for n in program.graph.nodes if n.name == name)
    return tuple(node.meta["val"].shape)


def _output_shape(program: ExportedProgram, names: dict[str, str]) -> list:
    """The output's shape, symbols renamed (``["batch", "16*tubelets", 96]``)."""
    output = next(n for n in program.graph.nodes if n.op == "output")
    (value,) = output.args[0]
    return [s if isinstance(s, int) else rename_symbols(str(s), names)
            for s in value.meta["val"].shape]  # fmt: skip


def _bounds(program: ExportedProgram, size) -> Range:
    """The (min, max) a dim of the input may take (max None: unbounded)."""
    if isinstance(size, int):
        return size, size
    expr = size.node.expr
    (symbol,) = expr.free_symbols
    bounds = program.range_constraints[symbol]
    high = expr.subs(symbol, bounds.upper)
    return int(expr.subs(symbol, bounds.lower)), None if math.isinf(float(high)) else int(high)
