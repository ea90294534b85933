"""Max abs errors of ours against transformers and Meta's original code (float32), for the table
in docs/models.md. The tests assert <= 1e-5 on exactly these measurements
(tests/models/parity_cases.py); this prints the values. Needs transformers, not pytest.

    python benchmarks/parity.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import transformers  # noqa: E402
from tests.models.parity_cases import (  # noqa: E402
    CONFIGS,
    ENCODER_FRAMES,
    classifier_logits_error,
    encoder_error,
    original_errors,
    predictor_errors,
    transformers_pair,
)

FIXTURES = ROOT.parent / "shared" / "fixtures"


def against_transformers() -> None:
    print(f"{'config':8}{'encoder':>10}{'predictor':>11}{'(all)':>9}{'logits':>10}")
    for name, config in CONFIGS.items():
        with tempfile.TemporaryDirectory() as tmp:
            ours, theirs = transformers_pair(name, tmp)
            encoder = max(encoder_error(ours, theirs, config, t) for t in ENCODER_FRAMES)
            split, default_masks = predictor_errors(ours, theirs, config)
        with tempfile.TemporaryDirectory() as tmp:
            logits = classifier_logits_error(name, tmp)
        print(f"{name:8}{encoder:10.1e}{split:11.1e}{default_masks:9.1e}{logits:10.1e}")


def against_original() -> None:
    folder = FIXTURES / "original" / "tiny_square"
    if not folder.exists():
        print(f"(no fixtures at {folder})")
        return
    errors = original_errors(folder)
    print("original code: " + ", ".join(f"{k} {v:.1e}" for k, v in errors.items()))


if __name__ == "__main__":
    transformers.logging.set_verbosity_error()
    against_transformers()
    against_original()
