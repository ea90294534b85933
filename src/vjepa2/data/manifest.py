"""Lists of videos and labelled datasets: directories, list files, CSV/TSV manifests, splits.

Formats read:
- a directory (searched recursively for video files) or explicit files;
- a list file: one path per line (``#`` comments and blank lines skipped);
- a labelled manifest: ``path label`` per line without a header, separated by spaces or tabs
  (the original repo's format), or a CSV/TSV with a header naming a path column (``path``,
  ``file``, ``video``, ``filename``) and a label column (``label``, ``class``, ``category``);
  a header naming neither is an error that says so; labels are class names or integers;
- a folder per class: ``root/<class name>/<videos>``.
Relative paths in a list or manifest are resolved against the file's own directory.
"""

from __future__ import annotations

import csv
import os
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

VIDEO_EXTENSIONS = frozenset(
    [
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".webm",
        ".avi",
        ".gif",
        ".mpg",
        ".mpeg",
        ".ts",
        ".mts",
        ".m2ts",
        ".flv",
        ".wmv",
        ".3gp",
        ".ogv",
        ".mxf",
    ]
)


IMAGE_EXTENSIONS = frozenset([".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"])
"""Still images: read as one-frame videos (a static clip) by `embed` and `classify`."""


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".")


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def find_videos(inputs: Iterable[str | os.PathLike], images: bool = False) -> list[Path]:
    """Expand files and directories (recursively: video extensions, and image ones with
    ``images``) into a sorted, de-duplicated list. Explicit files are kept whatever their
    extension; a missing input raises ``FileNotFoundError``."""
    found: dict[Path, None] = {}
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and (is_video_file(file) or (images and is_image_file(file))):
                    found[file] = None
        elif path.exists() or path.is_symlink():
            found[path] = None
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")
    return list(found)


def read_list(list_file: str | os.PathLike) -> list[Path]:
    """Paths from a list file, one per line, relative ones resolved against its folder."""
    list_file = Path(list_file)
    paths = []
    for line in list_file.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            paths.append(_resolve(line, list_file.parent))
    return paths


def _resolve(path: str, base: Path) -> Path:
    p = Path(os.path.expanduser(path))
    return p if p.is_absolute() else base / p


@dataclass(frozen=True)
class Example:
    """One labelled video."""

    path: Path
    label: int


@dataclass
class LabelledSet:
    """Examples with their class names (``id2label``)."""

    examples: list[Example]
    id2label: dict[int, str]

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def label2id(self) -> dict[str, int]:
        return {v: k for k, v in self.id2label.items()}

    def subset(self, examples: Sequence[Example]) -> LabelledSet:
        return LabelledSet(list(examples), dict(self.id2label))


def read_labelled(source: str | os.PathLike, id2label: dict[int, str] | None = None) -> LabelledSet:
    """A folder per class, or a manifest file (see the module docstring).

    ``id2label`` fixes the class order (e.g. the training set's, for val/test manifests);
    names not in it are an error.
    """
    source = Path(source)
    if source.is_dir():
        return _read_class_folders(source, id2label)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such file or directory")
    return _read_manifest(source, id2label)


def _read_class_folders(root: Path, id2label: dict[int, str] | None) -> LabelledSet:
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ValueError(f"{root}: expected one sub-folder per class, found none")
    id2label = id2label or dict(enumerate(classes))
    label2id = {v: k for k, v in id2label.items()}
    unknown = [c for c in classes if c not in label2id]
    if unknown:
        raise ValueError(f"{root}: classes not in the label set: {unknown}")
    examples = [
        Example(file, label2id[name])
        for name in classes
        for file in sorted((root / name).rglob("*"))
        if file.is_file() and is_video_file(file)
    ]
    return LabelledSet(examples, id2label)


def _read_manifest(path: Path, id2label: dict[int, str] | None) -> LabelledSet:
    text = path.read_text()
    rows = _manifest_rows(text, path)
    labels = [label for _, label in rows]
    if id2label is None:
        if all(label.lstrip("-").isdigit() for label in labels):
            ids = sorted({int(label) for label in labels})
            id2label = {i: str(i) for i in range(max(ids) + 1)} if ids else {}
        else:
            id2label = dict(enumerate(sorted(set(labels))))
    label2id = {v: k for k, v in id2label.items()}
    examples = []
    for (file, label), line_no in zip(rows, range(1, len(rows) + 1), strict=True):
        if label in label2id:
            index = label2id[label]
        elif label.isdigit() and int(label) in id2label:
            index = int(label)
        else:
            raise ValueError(f"{path}: row {line_no}: unknown label {label!r}")
        examples.append(Example(_resolve(file, path.parent), index))
    return LabelledSet(examples, id2label)


PATH_COLUMNS = ("path", "file", "video", "filename", "file_name", "filepath", "video_path")
LABEL_COLUMNS = ("label", "class", "category", "class_name", "label_name")


def _manifest_rows(text: str, path: Path) -> list[tuple[str, str]]:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ValueError(f"{path}: empty manifest")
    delimiter = "\t" if "\t" in lines[0] else ("," if "," in lines[0] else None)
    first = [c.strip().lower() for c in _split(lines[0], delimiter)]
    columns = _header_columns(first, path)
    if columns is not None:
        rows = [_split(line, delimiter) for line in lines[1:]]
        width = max(columns) + 1
        for n, cells in enumerate(rows, start=2):
            if len(cells) < width:
                raise ValueError(f"{path}: line {n}: expected {len(first)} columns, got {cells}")
        return [(cells[columns[0]].strip(), cells[columns[1]].strip()) for cells in rows]
    rows = []
    for n, line in enumerate(lines, start=1):
        # Without a delimiter the label is the last word, so paths may contain spaces.
        cells = line.rsplit(None, 1) if delimiter is None else _split(line, delimiter)
        if len(cells) < 2:
            raise ValueError(f"{path}: line {n}: expected 'path label', got {line!r}")
        rows.append((cells[0].strip(), cells[1].strip()))
    return rows


def _header_columns(first: list[str], path: Path) -> tuple[int, int] | None:
    """(path column, label column) when the first row is a header, None when it is data.

    A header names a path column (one of PATH_COLUMNS) and a label column (LABEL_COLUMNS). A
    first row whose first cell is no file name (no extension, no such file) and which names
    only one of them, or holds only words, is a header we cannot read: an error naming the
    columns expected.
    """
    path_column = next((first.index(n) for n in PATH_COLUMNS if n in first), None)
    label_column = next((first.index(n) for n in LABEL_COLUMNS if n in first), None)
    if path_column is not None and label_column is not None:
        return path_column, label_column
    if Path(first[0]).suffix or (path.parent / first[0]).exists():
        return None  # a file name first: a data row
    named = path_column is not None or label_column is not None
    if named or (len(first) >= 2 and all(c.isidentifier() for c in first)):
        raise ValueError(
            f"{path}: the header {first} names no path or no label column; name them "
            f"{'/'.join(PATH_COLUMNS[:4])} and {'/'.join(LABEL_COLUMNS[:3])} "
            "(or leave the header out: 'path label' per line)"
        )
    return None


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return next(csv.reader([line], delimiter=delimiter))


def split_examples(
    data: LabelledSet,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> tuple[LabelledSet, LabelledSet, LabelledSet]:
    """Stratified random split into train / val / test by ``ratios`` (normalised to sum 1)."""
    if len(ratios) != 3 or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ValueError(f"ratios must be three non-negative numbers, got {ratios}")
    total = sum(ratios)
    by_class: dict[int, list[Example]] = defaultdict(list)
    for example in data.examples:
        by_class[example.label].append(example)
    rng = random.Random(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for label in sorted(by_class):
        items = by_class[label]
        rng.shuffle(items)
        n_val = round(len(items) * ratios[1] / total)
        n_test = round(len(items) * ratios[2] / total)
        parts[1].extend(items[:n_val])
        parts[2].extend(items[n_val : n_val + n_test])
        parts[0].extend(items[n_val + n_test :])
    return tuple(data.subset(sorted(p, key=lambda e: str(e.path))) for p in parts)  # type: ignore[return-value]
