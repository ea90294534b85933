"""Models for deployment: ``torch.export`` (``.pt2``) and ONNX graphs of an encoder or a
classifier with a dynamic batch (and clip length), the preprocessing they expect written beside
them, and a parity check against PyTorch on every export (`export_model`)."""

from vjepa2.export.exporter import ExportedFile, ExportOptions, ExportParityError, export_model
from vjepa2.export.graphs import FORMATS, INPUT_NAME, PARTS

__all__ = [
    "FORMATS",
    "INPUT_NAME",
    "PARTS",
    "ExportOptions",
    "ExportParityError",
    "ExportedFile",
    "export_model",
]
