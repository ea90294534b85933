"""V-JEPA 2 networks in PyTorch: encoder, predictor, attentive classifier.

The bottom of the model stack: these modules import the config and each other, nothing above
(checkpoint formats are :mod:`vjepa2.weights`, embedding videos is :mod:`vjepa2.inference`).
"""

from vjepa2.models.classifier import AttentiveClassifier, AttentivePooler
from vjepa2.models.encoder import VJEPA2Encoder
from vjepa2.models.model import (
    AnticipationOutput,
    VideoClassifierOutput,
    VJEPA2ForActionAnticipation,
    VJEPA2ForVideoClassification,
    VJEPA2Model,
    VJEPA2Output,
)
from vjepa2.models.predictor import VJEPA2Predictor

__all__ = [
    "AnticipationOutput",
    "AttentiveClassifier",
    "AttentivePooler",
    "VJEPA2Encoder",
    "VJEPA2ForActionAnticipation",
    "VJEPA2ForVideoClassification",
    "VJEPA2Model",
    "VJEPA2Output",
    "VJEPA2Predictor",
    "VideoClassifierOutput",
]
