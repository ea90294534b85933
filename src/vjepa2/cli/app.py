"""The ``vjepa2`` command-line application; each verb lives in its own module of this package."""

import typer

app = typer.Typer(
    name="vjepa2",
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
        from vjepa2 import __version__

        typer.echo(f"vjepa2 {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """V-JEPA 2 video models end to end."""
