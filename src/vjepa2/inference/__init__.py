"""Inference jobs: embeddings and classification over videos, at batch scale."""

from vjepa2.inference.classify import Prediction, classify, classify_videos
from vjepa2.inference.embed import Embedding, EmbedSummary, embed_video, embed_videos

__all__ = [
    "EmbedSummary",
    "Embedding",
    "Prediction",
    "classify",
    "classify_videos",
    "embed_video",
    "embed_videos",
]
