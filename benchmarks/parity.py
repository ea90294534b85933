"""Max abs errors of ours against transformers and Meta's original code (float32), for the table
in docs/models.md. The tests assert <= 1e-5; this prints the measured values.

    python benchmarks/parity.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import transformers  # noqa: E402
from tests.conftest import FIXTURES, tiny_config  # noqa: E402
from tests.models.test_transformers_parity import CONFIGS, hf_config, perturb_  # noqa: E402

import vjepa2  # noqa: E402


def err(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


@torch.no_grad()
def against_transformers() -> None:
    print(f"{'config':8}{'encoder':>10}{'predictor':>11}{'logits':>10}")
    for name, config in CONFIGS.items():
        torch.manual_seed(1)
        theirs = transformers.VJEPA2Model(hf_config(config)).eval()
        perturb_(theirs)
        with tempfile.TemporaryDirectory() as tmp:
            theirs.save_pretrained(tmp)
            ours = vjepa2.load(tmp)
        size = config.crop_size
        encoder = max(
            err(ours(x).last_hidden_state, theirs.get_vision_features(x))
            for x in (torch.randn(2, t, 3, size, size) for t in (1, 2, 4, 6))
        )
        x = torch.randn(2, 4, 3, size, size)
        n = 2 * config.grid_size**2
        perm = torch.stack([torch.randperm(n) for _ in range(2)])
        ctx, tgt = perm[:, : n // 2].sort(1).values, perm[:, n // 2 :].sort(1).values
        expected = theirs(x, context_mask=[ctx], target_mask=[tgt]).predictor_output
        full = ours(x).last_hidden_state
        context = torch.gather(full, 1, ctx.unsqueeze(-1).expand(-1, -1, full.size(-1)))
        predictor = err(ours.predictor(context, [ctx], [tgt]), expected.last_hidden_state)
        torch.manual_seed(2)
        labelled = config.replace(id2label={i: str(i) for i in range(5)})
        theirs = transformers.VJEPA2ForVideoClassification(hf_config(labelled)).eval()
        perturb_(theirs)
        with tempfile.TemporaryDirectory() as tmp:
            theirs.save_pretrained(tmp)
            ours = vjepa2.load(tmp)
        x = torch.randn(3, 4, 3, size, size)
        logits = err(ours(x).logits, theirs(pixel_values_videos=x).logits)
        print(f"{name:8}{encoder:10.1e}{predictor:11.1e}{logits:10.1e}")


@torch.no_grad()
def against_original() -> None:
    folder = FIXTURES / "original" / "tiny_square"
    if not folder.exists():
        print(f"(no fixtures at {folder})")
        return
    case = torch.load(folder / "case.pt", weights_only=True)
    config = tiny_config()
    model = vjepa2.load(folder / "checkpoint.pt", config=config)
    classifier = vjepa2.load(folder / "checkpoint.pt", config=config,
                             classifier=folder / "classifier.pt", classifier_heads=4)  # fmt: skip
    x = case["video_bcthw"].transpose(1, 2)
    masked = model(x, context_idx=[case["context_idx"]], target_idx=[case["target_idx"]])
    print("original code: encoder {:.1e}, masked encoder {:.1e}, predictor {:.1e}, logits {:.1e}"
          .format(err(model(x).last_hidden_state, case["encoder_out"]),
                  err(masked.masked_hidden_state, case["masked_encoder_out"]),
                  err(masked.predictor_output, case["predictor_out"]),
                  err(classifier(x).logits, case["classifier_logits"])))  # fmt: skip


if __name__ == "__main__":
    transformers.logging.set_verbosity_error()
    against_transformers()
    against_original()
