"""Strict loading: a checkpoint's tensors against a model's, every problem listed at once.

A bad checkpoint raises one error type, :class:`CheckpointError`, whatever went wrong: a file that
cannot be read (truncated safetensors, a pickle payload), weights that are missing, or keys that do
not match the model. Key problems are listed together (unexpected, missing, mis-shaped), each key
named as the file names it, with the model's name beside it where they differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from vjepa2.errors import UsageError

_SHOWN = 20


class CheckpointError(UsageError, ValueError):
    """A checkpoint that cannot be read, or does not match the model it is loaded into."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """A checkpoint that is not there: no such file, preset or Hub id, no weights in a model
    folder, or shards missing."""


Shapes = Mapping[str, Sequence[int]]


def _listing(title: str, items: list[str]) -> str:
    shown = items[:_SHOWN]
    more = f"\n    ... and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return f"  {title} ({len(items)}):\n" + "\n".join(f"    {i}" for i in shown) + more


def shapes_of(state_dict: Mapping[str, torch.Tensor]) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in state_dict.items()}


def check_keys(
    expected: Shapes,
    found: Shapes,
    source: str,
    describe: Callable[[str], str] = str,
) -> None:
    """Raise :class:`CheckpointError` unless ``found`` has exactly the keys and shapes of
    ``expected``; the message lists every unexpected, missing and mis-shaped key.

    Both are in the file's naming; ``describe`` turns a key into the text shown for it (e.g. the
    key plus the model parameter it maps to).
    """
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    mis_shaped = sorted(
        f"{describe(k)}: checkpoint {list(found[k])} vs model {list(expected[k])}"
        for k in set(expected) & set(found)
        if list(found[k]) != list(expected[k])
    )
    if not (missing or unexpected or mis_shaped):
        return
    parts = [f"{source}: the checkpoint does not match the model"]
    for title, items in (
        ("unexpected", [describe(k) for k in unexpected]),
        ("missing", [describe(k) for k in missing]),
        ("wrong shape", mis_shaped),
    ):
        if items:
            parts.append(_listing(title, items))
    raise CheckpointError("\n".join(parts))


def load_strict(
    model: torch.nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    source: str,
    assign: bool = False,
) -> None:
    """Load ``state_dict`` (in the model's own names) into ``model``; raise
    :class:`CheckpointError` listing every missing, unexpected and mis-shaped key."""
    check_keys(shapes_of(model.state_dict()), shapes_of(state_dict), source)
    model.load_state_dict(state_dict, strict=True, assign=assign)
