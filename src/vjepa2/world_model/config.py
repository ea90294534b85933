"""Architectures of world models: the released V-JEPA 2-AC and how to describe others.

``vitg_ac_config()`` is the released ``vjepa2-ac-vitg.pt``: the V-JEPA 2 ViT-g/16 encoder at
256 px with a 24-layer, 1024-wide, 16-head AC predictor for 7-D actions and states. For another
size, build a :class:`~vjepa2.models.ac_predictor.VJEPA2ACConfig` (or write its
``config.json``)::

    VJEPA2ACConfig(
        encoder=VJEPA2Config(hidden_size=96, num_hidden_layers=2, num_attention_heads=3,
                             crop_size=64),
        predictor=ACPredictorConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                    action_dim=7),
    )
"""

from __future__ import annotations

from vjepa2.models.ac_predictor import ACPredictorConfig, VJEPA2ACConfig
from vjepa2.presets import get_preset

VITG_AC_NAME = "vitg-ac"
VITG_AC_FILE = "vjepa2-ac-vitg.pt"


def vitg_ac_config() -> VJEPA2ACConfig:
    """The released V-JEPA 2-AC: ViT-g encoder + 24-layer, 1024-wide, 16-head predictor."""
    return VJEPA2ACConfig(
        encoder=get_preset("vitg").config(),
        predictor=ACPredictorConfig(
            hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, mlp_ratio=4.0,
            action_dim=7,
        ),
    )  # fmt: skip
