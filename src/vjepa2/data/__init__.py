"""Datasets: what to read (video lists, labelled manifests, splits: `manifest`), the one path
from a file to clip tensors (`clip_pipeline`), loading it in workers (`loader`), pretraining's
clip order (`pretrain_clips`) and the synthetic motion benchmark (`motion`)."""

from vjepa2.data.clip_pipeline import Clips, ClipSpec, ClipSpecError, read_clips
from vjepa2.data.loader import UnreadableVideo, iterate_clips, seeded_generator
from vjepa2.data.manifest import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    Example,
    LabelledSet,
    find_videos,
    read_labelled,
    read_list,
    split_examples,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "ClipSpec",
    "ClipSpecError",
    "Clips",
    "Example",
    "LabelledSet",
    "UnreadableVideo",
    "find_videos",
    "iterate_clips",
    "read_clips",
    "read_labelled",
    "read_list",
    "seeded_generator",
    "split_examples",
]
