"""Atomic file writes: a kill at any moment leaves the old file or the new one, never a torn one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: str | os.PathLike, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; when the block ends without an error,
    fsync it (unless ``fsync=False``) and rename it over ``path``. The temporary file never
    outlives the block. Creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def new_file_mode() -> int:
    """The permissions a plain new file gets here: 0666 less the process umask."""
    umask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


def share_like_new_files(*paths: str | os.PathLike) -> None:
    """Give ``paths`` the permissions of a plain new file (`new_file_mode`).

    safetensors creates its files readable by their owner only (0600), so a model saved in a
    shared folder could not be loaded by anyone else; we save with the usual permissions.
    """
    mode = new_file_mode()
    for path in paths:
        os.chmod(path, mode)
