"""Command-line interface: ``vjepa2 --help``.

Every module of this package registers its verbs on :data:`vjepa2.cli.app.app` when imported;
they are imported here, so a new verb is a new module.
"""

import importlib
import pkgutil

from vjepa2.cli.app import app

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "app":
        importlib.import_module(f"{__name__}.{_module.name}")


def main() -> None:
    app()
