"""Datasets: video lists, labelled manifests, splits."""

from vjepa2.data.manifest import (
    VIDEO_EXTENSIONS,
    Example,
    LabelledSet,
    find_videos,
    read_labelled,
    read_list,
    split_examples,
)

__all__ = [
    "VIDEO_EXTENSIONS",
    "Example",
    "LabelledSet",
    "find_videos",
    "read_labelled",
    "read_list",
    "split_examples",
]
