"""A training run's folder: what it promises across re-runs, resumes and kills.

- A folder that holds a run is never overwritten silently: starting a run there again is refused
  (naming ``--resume`` and ``--overwrite``); ``--overwrite`` deletes the run's files and starts
  fresh; ``--resume`` continues it.
- ``run.json`` records what the run is: every option, the model (a fingerprint of its weights and
  config) and the data (a hash of the example list). ``--resume`` refuses a difference and names
  it; the options safe to change (e.g. epochs) pass with ``--allow-change NAME``.
- ``metrics.jsonl`` is appended line by line; on resume the lines after the checkpoint are
  dropped, a torn last line (a kill or a full disk mid-write) is ignored, and the rewrite is
  atomic.
- TensorBoard is optional: without it the run says so once and logs to its JSON files only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vjepa2.errors import UsageError
from vjepa2.files import write_text_atomic
from vjepa2.runtime import Distributed
from vjepa2.train.options import refuse_changes, resume_differences
from vjepa2.train.state import load_checkpoint

log = logging.getLogger("vjepa2.train")

IDENTITY_FILE = "run.json"
TENSORBOARD_HINT = "pip install 'vjepa2[train]'"


@dataclass
class RunFolder:
    """``path`` and the names (files or folders, relative to it) a run of this kind writes there.

    ``markers``: the names whose presence means a run lives in the folder (``run.json`` and the
    files of runs made before it existed).
    """

    path: Path
    run_files: tuple[str, ...]
    markers: tuple[str, ...] = (IDENTITY_FILE,)
    identity: dict[str, Any] = field(default_factory=dict)

    def holds_run(self) -> bool:
        return any((self.path / name).exists() for name in self.markers)

    def open(self, *, resume: bool, overwrite: bool, main: bool = True) -> bool:
        """Check the folder for a new run or a resume; returns whether a run is resumed.

        Raises :class:`UsageError` when the folder holds a run and neither ``resume`` nor
        ``overwrite`` is given, or both are. With ``overwrite`` the process with ``main`` set
        deletes the run's files.
        """
        if resume and overwrite:
            raise UsageError("--resume continues the run in the folder, --overwrite deletes it: "
                             "give one of them")  # fmt: skip
        if not self.holds_run():
            return False
        if resume:
            return True
        if not overwrite:
            raise UsageError(
                f"{self.path} already holds a run: continue it with --resume, or delete it and "
                f"start again with --overwrite (or choose another output folder)"
            )
        if main:
            self.delete()
        return False

    def delete(self) -> None:
        """Remove the run's files (nothing else in the folder)."""
        for pattern in self.run_files:
            for target in self.path.glob(pattern):
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink(missing_ok=True)
        log.warning("--overwrite: deleted the previous run in %s", self.path)

    def check_identity(
        self, options_cls: type, allowed: Iterable[str] = (), legacy_options: str | None = None
    ) -> None:
        """Refuse to resume a run that was made with other options, another model or other data
        (see `vjepa2.train.options`); ``allowed`` names the changeable options accepted."""
        saved = self.saved_identity(legacy_options)
        if saved is None:
            return
        current = self.identity
        differences = resume_differences(options_cls, saved.get("options", {}), current["options"])
        for key in sorted(set(current) - {"options"}):
            if key in saved and saved[key] != current[key]:
                differences.append((key, "fixed", saved[key], current[key]))
        refuse_changes(str(self.path), differences, {a.replace("-", "_") for a in allowed})

    def open_checkpointed(
        self, options_cls: type, opts: Any, ddp: Distributed, legacy_options: str | None = None
    ) -> dict | None:
        """`open` and `check_identity` for a run that saves ``latest.pt`` (``opts`` has
        ``resume``, ``overwrite`` and ``allow_change``), every process past the check before
        rank 0 writes; returns the checkpoint to resume from (None: a new run)."""
        resuming = self.open(resume=opts.resume, overwrite=opts.overwrite, main=ddp.is_main)
        if resuming:
            self.check_identity(options_cls, opts.allow_change, legacy_options)
        ddp.barrier()  # every process has looked at the folder before rank 0 writes to it
        latest = self.path / "latest.pt"
        if resuming and latest.exists():
            return load_checkpoint(latest)
        if opts.resume and ddp.is_main:
            log.warning("--resume: no %s yet, starting a new run", latest)
        return None

    def saved_identity(self, legacy_options: str | None = None) -> dict[str, Any] | None:
        path = self.path / IDENTITY_FILE
        if path.exists():
            return json.loads(path.read_text())
        if legacy_options and (self.path / legacy_options).exists():
            return {"options": json.loads((self.path / legacy_options).read_text())}
        return None

    def write_identity(self) -> None:
        """Record ``identity`` in ``run.json`` (atomically)."""
        write_text_atomic(self.path / IDENTITY_FILE, json.dumps(self.identity, indent=1) + "\n")


def list_digest(items: Iterable[Any]) -> str:
    """A short hash of a list of examples (paths, labels, ...), in order."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(json.dumps(item, default=str).encode() + b"\n")
    return digest.hexdigest()[:16]


def file_digest(source: str | None) -> str | None:
    """A short hash of a local file's bytes, or of every file in a local folder; ``None`` for
    no source, and the text itself for something that is not a local path (a Hub id, a
    preset)."""
    if source is None:
        return None
    path = Path(source)
    if not path.exists():
        return source
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if file.is_file():
            digest.update(file.relative_to(path).as_posix().encode() if path.is_dir() else b"")
            with open(file, "rb") as f:
                while chunk := f.read(1 << 22):
                    digest.update(chunk)
    return digest.hexdigest()[:16]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file; a line that does not parse (a torn tail) is skipped
    with a warning."""
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            log.warning("%s: line %d is torn (an interrupted write), dropped", path, number)
    return records


def truncate_jsonl(path: Path, step: int) -> None:
    """Keep the records up to ``step`` (a resumed run rewrites what came after its checkpoint),
    rewriting the file atomically."""
    if not path.exists():
        return
    kept = [r for r in read_jsonl(path) if isinstance(r, dict) and r.get("step", 0) <= step]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))


class _NoWriter:
    """Stands in for a TensorBoard writer when tensorboard is not installed."""

    def add_scalar(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def tensorboard_available() -> bool:
    """Whether tensorboard (an extra) is installed; says so when it is not, so a run can warn
    before any work and train without it."""
    if importlib.util.find_spec("tensorboard") is not None:
        return True
    log.warning("tensorboard is not installed (%s): training without TensorBoard logs; the "
                "metrics go to the run's JSON files", TENSORBOARD_HINT)  # fmt: skip
    return False


def summary_writer(directory: Path, purge_step: int | None = None, available: bool | None = None):
    """A TensorBoard writer that drops the events from ``purge_step`` on (what a resumed run
    logs again), or one that writes nothing when tensorboard is not installed (``available``:
    the answer of an earlier `tensorboard_available`)."""
    if available is None:
        available = tensorboard_available()
    if not available:
        return _NoWriter()
    from torch.utils.tensorboard import SummaryWriter  # an extra: imported where it is needed

    return SummaryWriter(str(directory), purge_step=purge_step or None)
