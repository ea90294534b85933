"""``manifest.jsonl``: one JSON record per processed video, appended and fsynced as each
finishes, so a killed run can be resumed; the last record of a path wins."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class Manifest:
    """Records of a run directory's ``manifest.jsonl``."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.records: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a kill mid-write
                self.records[record["path"]] = record

    def is_done(self, path: str) -> bool:
        """Succeeded before and its output is still there, whole (same size as recorded)."""
        record = self.records.get(path)
        if not record or record.get("status") != "ok":
            return False
        output = self.path.parent / record["output"]
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
        self.records[record["path"]] = record
