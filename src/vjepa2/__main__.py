"""``python -m vjepa2`` runs the command-line interface."""

from vjepa2.cli import main

main()
