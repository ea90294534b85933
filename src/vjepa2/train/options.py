"""One source of truth for a training verb's options: the dataclass field.

Each field of an options dataclass is declared with :func:`option`, which records its help text,
how the command line spells it and what ``--resume`` may do with it. The CLI is derived from these
fields (``vjepa2.cli.options``), the run folder stores them (``options_json``) and a resume
compares them (:func:`resume_differences`).

What ``--resume`` does with a field that differs from the saved run:

- ``fixed`` (default): refused; the run would not be the run it claims to continue.
- ``changeable``: refused unless named in ``--allow-change`` (e.g. more epochs).
- ``free``: never compared (how the work is done, not what is computed: workers, logging).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from typing import Any

from vjepa2.errors import UsageError

RESUME_POLICIES = ("fixed", "changeable", "free")


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
    flags: tuple[str, ...] = (),
    cli_type: Any = None,
    parse: Callable[[Any], Any] | None = None,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    cli_default: Any = dataclasses.MISSING,
    choices: tuple[str, ...] = (),
    resume: str = "fixed",
    cli: bool = True,
) -> Any:
    """A dataclass field with what the CLI and ``--resume`` need to know about it.

    Args:
        help: the ``--help`` text.
        flags: the option's names when they differ from ``--field-name`` (e.g. ``("--lr",)``).
        cli_type: the type the command line reads when it differs from the field's (``parse``
            turns it into the field's value), e.g. ``list[str]`` for ``--mask`` texts.
        min / max: bounds checked by the CLI (inclusive; ``min_open``: ``min`` excluded).
        cli_default: the command line's default when it differs from the field's (e.g.
            ``None``: "the recipe's value").
        choices: the values allowed (text options).
        resume: ``fixed``, ``changeable`` or ``free`` (see the module docstring).
        cli: False for fields the command line does not set.
    """
    if resume not in RESUME_POLICIES:
        raise ValueError(f"resume must be one of {RESUME_POLICIES}, got {resume!r}")
    metadata = dict(help=help, flags=flags, cli_type=cli_type, parse=parse, min=min, max=max,
                    min_open=min_open, cli_default=cli_default, choices=choices, resume=resume,
                    cli=cli)  # fmt: skip
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def options_json(options: Any) -> dict[str, Any]:
    """The options as JSON values (tuples become lists, paths and other objects text)."""
    return json.loads(json.dumps(dataclasses.asdict(options), default=str))


def resume_differences(
    cls: type, saved: dict[str, Any], current: dict[str, Any]
) -> list[tuple[str, str, Any, Any]]:
    """``(name, policy, saved value, current value)`` of every compared field that differs
    (both sides as JSON values, see `options_json`)."""
    differences = []
    for field in dataclasses.fields(cls):
        policy = field.metadata.get("resume", "fixed")
        if policy == "free" or field.name not in current:
            continue
        # A field the saved run lacks is an option added since: that run had its default.
        old = saved[field.name] if field.name in saved else _default_json(field)
        if old != current[field.name]:
            differences.append((field.name, policy, old, current[field.name]))
    return differences


def _default_json(field: dataclasses.Field) -> Any:
    """A field's default as a JSON value (as `options_json` writes it); None without one."""
    if field.default is not dataclasses.MISSING:
        default = field.default
    elif field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    else:
        return None
    return json.loads(json.dumps(default, default=str))


def refuse_changes(
    where: str, differences: list[tuple[str, str, Any, Any]], allowed: Iterable[str] = ()
) -> None:
    """Raise a :class:`UsageError` naming every difference a resume may not take: ``fixed`` ones,
    and ``changeable`` ones not in ``allowed``."""
    allowed = {name.replace("-", "_") for name in allowed}
    refused = [d for d in differences if d[1] == "fixed" or d[0] not in allowed]
    if not refused:
        return
    listed = "; ".join(f"{_flag(name)}: {old!r} -> {new!r}" for name, _, old, new in refused)
    changeable = [_flag(name) for name, policy, _, _ in refused if policy == "changeable"]
    hint = " Start a new run with --overwrite or another output folder"
    if changeable:
        hint += f", or accept with --allow-change {' --allow-change '.join(changeable)}"
    raise UsageError(f"--resume: {where} was made with other settings ({listed}).{hint}.")


def _flag(name: str) -> str:
    """An option's name as the command line spells it after ``--`` (``max_steps`` ->
    ``max-steps``)."""
    return name.replace("_", "-")
