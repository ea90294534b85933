"""A verb's options derived from an options dataclass: each ``option()`` field of
`vjepa2.train.options` becomes a typer option with its help text, flags, type and range, so an
option is written once, in the dataclass."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any

import typer


def options_command(cls: type, build: Callable[..., Any] | None = None) -> Callable:
    """Decorate a command ``func(options, **own)``: the command takes ``func``'s own parameters
    plus one option per CLI field of the dataclass ``cls``, and calls ``func`` with
    ``options=build(**fields)`` (``build`` defaults to ``cls``; a field's ``parse`` turns the
    command-line value into the field's)."""
    build = build or cls
    cli_fields = [f for f in dataclasses.fields(cls) if f.metadata.get("cli", False)]
    hints = typing.get_type_hints(cls)

    def decorate(func: Callable) -> Callable:
        own = inspect.signature(func, eval_str=True)
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                  for p in own.parameters.values() if p.name != "options"]  # fmt: skip
        params += [_parameter(f, hints[f.name]) for f in cli_fields]

        @functools.wraps(func)
        def command(**values: Any) -> Any:
            fields = {}
            for f in cli_fields:
                value = values.pop(f.name)
                parse = f.metadata.get("parse")
                fields[f.name] = parse(value) if parse is not None else value
            return func(options=build(**fields), **values)

        command.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
        return command

    return decorate


def _parameter(field: dataclasses.Field, field_type: Any) -> inspect.Parameter:
    meta = field.metadata
    default = meta.get("cli_default", dataclasses.MISSING)
    if default is dataclasses.MISSING:
        default = field.default
    if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    if default is dataclasses.MISSING:
        default = ...  # required
    cli_type = meta.get("cli_type") or field_type
    if default is None and meta.get("cli_type") is None:
        cli_type = cli_type | None
    if meta.get("parse") is not None and default is not ... and meta.get("cli_type") is not None:
        default = None  # the parse function maps "not given" to the field's default
    flags = meta.get("flags") or ()
    info = typer.Option(*flags, help=meta.get("help", ""), min=meta.get("min"),
                        max=meta.get("max"), callback=_checker(meta))  # fmt: skip
    return inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[cli_type, info])  # fmt: skip


def _checker(meta: typing.Mapping[str, Any]) -> Callable[[Any], Any] | None:
    """What typer's ``min``/``max`` cannot say: an excluded minimum, a set of choices."""
    choices, low = meta.get("choices"), meta.get("min")
    if not choices and not meta.get("min_open"):
        return None

    def check(value: Any) -> Any:
        if value is None:
            return value
        if choices and value not in choices:
            raise typer.BadParameter(f"{value!r}: choose from {', '.join(choices)}")
        if meta.get("min_open") and value <= low:
            raise typer.BadParameter(f"{value} must be greater than {low}")
        return value

    return check
