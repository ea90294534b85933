"""Atomic file writes: a kill at any moment leaves the old file or the new one, never a torn one.

A write goes to ``.NAME.PID.tmp`` beside ``NAME`` and is renamed over it; the temporary file of a
process that was killed mid-write is removed by the next atomic write into the same folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.tmp$")


@contextmanager
def atomic_write(path: str | os.PathLike, fsync: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; when the block ends without an error,
    fsync it (unless ``fsync=False``) and rename it over ``path``. The temporary file never
    outlives the block. Creates the parent folder and removes the leftovers of killed writes
    there (`remove_stale_temps`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see `atomic_write`)."""
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(text)
    return path


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Delete the ``.NAME.PID.tmp`` files in ``folder`` whose process no longer runs (a write
    killed before its rename); returns what was removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match and not _running(int(match.group(1))) and entry.is_file(follow_symlinks=False):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or not a pid we can ask about: leave it
    return True


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
