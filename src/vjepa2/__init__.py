"""V-JEPA 2 video models end to end: embeddings, classification, probe training, pretraining."""

from vjepa2.config import VJEPA2Config
from vjepa2.inference import classify
from vjepa2.models import VJEPA2ForVideoClassification, VJEPA2Model, build_model
from vjepa2.presets import PRESETS, get_preset
from vjepa2.video.transforms import preprocess
from vjepa2.weights import CheckpointError, load

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "CheckpointError",
    "VJEPA2Config",
    "VJEPA2ForVideoClassification",
    "VJEPA2Model",
    "__version__",
    "build_model",
    "classify",
    "get_preset",
    "load",
    "preprocess",
]
