"""What an embedding folder holds: ``run.json`` (the model and settings it was made with) and
``records.jsonl`` (one JSON record per processed video).

Records are appended and fsynced as each video finishes, so a killed run can be resumed; the
last record of a file wins. A video counts as done when a record for the same file (resolved
absolute path, size and modification time) says ok and its output is still there, whole. A run
with another model or other settings into the same folder is refused (`EmbedFolderError`),
so a folder never mixes embeddings.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vjepa2.errors import UsageError
from vjepa2.files import atomic_write

RECORDS = "records.jsonl"
RUN = "run.json"
LEGACY_RECORDS = "manifest.jsonl"


class EmbedFolderError(UsageError):
    """The output folder holds embeddings made with another model or other settings."""


def weights_fingerprint(module: torch.nn.Module) -> str:
    """A short hash of a model's config and weights (name and sum of every tensor), so that
    outputs are not reused across checkpoints that happen to share a path."""
    digest = hashlib.sha1(json.dumps(module.config.to_dict(), sort_keys=True).encode())
    with torch.no_grad():
        for name, tensor in sorted(module.state_dict().items()):
            digest.update(name.encode())
            digest.update(np.float64(tensor.double().sum().item()).tobytes())
    return digest.hexdigest()[:16]


def file_identity(path: str | os.PathLike) -> dict[str, Any]:
    """The resolved absolute path, size and modification time of an input file."""
    resolved = Path(path).resolve()
    try:
        stat = resolved.stat()
    except OSError:
        return {"resolved": str(resolved), "size": None, "mtime_ns": None}
    return {"resolved": str(resolved), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def claim_folder(out_dir: Path, run: dict[str, Any]) -> None:
    """Record what this folder's embeddings are made with, or refuse a different ``run``.

    ``run`` holds the model fingerprint and the settings; ``model_source`` (the name as typed)
    is kept for the reader but not compared.
    """
    path = out_dir / RUN
    if not path.exists():
        if (out_dir / LEGACY_RECORDS).exists():
            raise EmbedFolderError(
                f"{out_dir} holds embeddings of an older vjepa2 ({LEGACY_RECORDS}) whose model "
                "and settings are unknown; embed into a new folder"
            )
        with atomic_write(path) as tmp:
            Path(tmp).write_text(json.dumps(run, indent=1, sort_keys=True) + "\n")
        return
    try:
        before = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise EmbedFolderError(f"{path}: unreadable ({err}); embed into a new folder") from err
    changed = [
        f"{key} {_short(before.get(key))} -> {_short(run.get(key))}"
        for key in sorted(set(before) | set(run))
        if key != "model_source" and before.get(key) != run.get(key)
    ]
    if changed:
        raise EmbedFolderError(
            f"{out_dir} was embedded with other settings ({'; '.join(changed)}); "
            "use another --out folder (a folder never mixes embeddings)"
        )


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_records(path: Path) -> dict[str, dict[str, Any]]:
    """The records of a JSON-lines file keyed by resolved input path, the last one of a file
    winning; torn lines (a kill mid-write) are skipped. Empty when there is no file."""
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a kill mid-write
        if isinstance(record, dict) and isinstance(record.get("resolved"), str):
            records[record["resolved"]] = record
    return records


class EmbedRecords:
    """Records of a folder's ``records.jsonl``, keyed by the input's resolved path."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.path = Path(out_dir) / RECORDS
        self.records: dict[str, dict[str, Any]] = read_records(self.path)

    def is_done(self, path: str | os.PathLike) -> bool:
        """The same file (resolved path, size, mtime) succeeded before and its output is still
        there, whole (same size as recorded)."""
        identity = file_identity(path)
        record = self.records.get(identity["resolved"])
        if not record or record.get("status") != "ok":
            return False
        if any(record.get(key) != value for key, value in identity.items()):
            return False
        output = self.path.parent / str(record.get("output"))
        return output.is_file() and output.stat().st_size == record.get("bytes")

    def append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            f.seek(0, os.SEEK_END)
            if f.tell():
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":  # the previous writer was killed mid-line
                    f.write(b"\n")
            f.write(json.dumps(record).encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        self.records[record["resolved"]] = record
