"""The ``vjepa2`` command-line application; each verb lives in its own module of this package.

Every verb fails the same way: an error the package raises on purpose (`vjepa2.errors`), a file
that cannot be read or written, or an unexpected exception is printed as one line,
``Error: <what> (<file or option>): <reason>``, with exit code 2 for bad usage (bad options,
missing input files) and 1 for a failure at run time. ``vjepa2 --debug VERB ...`` shows the full
traceback instead.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer
from safetensors import SafetensorError
from typer.core import TyperGroup

from vjepa2 import __version__
from vjepa2.errors import UsageError, VJEPA2Error

USAGE_EXIT, FAILURE_EXIT = 2, 1
# OS errors that mean "the path you gave is wrong" (usage), as opposed to a failing disk or a
# folder we may not write to (run time).
_PATH_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError)
# What typer handles itself: its usage errors (bad or missing options), help, exit codes, Ctrl-C.
PASS_THROUGH = (typer.TyperException, typer.Exit, typer.Abort)


def describe_failure(err: BaseException) -> tuple[int, str]:
    """(exit code, one-line message) for an exception a verb let through."""
    if isinstance(err, UsageError):
        return USAGE_EXIT, str(err)
    if isinstance(err, VJEPA2Error):
        return FAILURE_EXIT, str(err)
    if isinstance(err, OSError):
        where = f"{err.filename}: " if err.filename else ""
        if err.filename2:
            where = f"{err.filename} -> {err.filename2}: "
        reason = err.strerror or str(err)
        return (USAGE_EXIT if isinstance(err, _PATH_ERRORS) else FAILURE_EXIT), f"{where}{reason}"
    if isinstance(err, SafetensorError):
        return FAILURE_EXIT, f"a safetensors file is corrupt or truncated: {err}"
    if isinstance(err, ImportError) and err.name:
        return FAILURE_EXIT, f"{err} (an optional dependency: pip install 'vjepa2[train]')"
    message = str(err).splitlines()[0] if str(err) else ""
    return FAILURE_EXIT, f"{type(err).__name__}: {message} (rerun with --debug for the traceback)"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def show_package_logs(level: int = logging.WARNING) -> None:
    """Print the package's log records at ``level`` and above on stderr (warnings by default:
    a missing optional dependency, a skipped file, an implied option)."""
    logger = logging.getLogger("vjepa2")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(level)


class VJEPA2Group(TyperGroup):
    """Runs a verb and turns what it lets through into one line and an exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PASS_THROUGH:
            raise
        except Exception as err:
            if ctx.params.get("debug"):
                raise
            code, message = describe_failure(err)
            typer.echo(f"Error: {message}", err=True)
            ctx.exit(code)


app = typer.Typer(
    name="vjepa2",
    cls=VJEPA2Group,
    help=(
        "V-JEPA 2 video models end to end.\n\n"
        "Embed videos, classify actions, train a probe on your labels, pretrain on your footage, "
        "and convert checkpoints between Meta's original format and the Hugging Face format."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vjepa2 {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an error instead of one line."
    ),
) -> None:
    """V-JEPA 2 video models end to end."""
    show_package_logs()
