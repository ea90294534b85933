"""Command-line interface: ``vjepa2 --help``."""

from vjepa2.cli import convert  # noqa: F401  (registers the verbs)
from vjepa2.cli.app import app


def main() -> None:
    app()
