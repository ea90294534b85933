"""V-JEPA 2-AC as a world model: load it, encode frames, predict, compute losses, plan actions."""

from vjepa2.models.ac_predictor import ACPredictorConfig, VJEPA2ACConfig
from vjepa2.world_model.config import vitg_ac_config
from vjepa2.world_model.frames import FrameTransform
from vjepa2.world_model.landscape import EnergyLandscape, draw_landscape, energy_landscape
from vjepa2.world_model.model import WorldModel, load_world_model
from vjepa2.world_model.planning import cem
from vjepa2.world_model.pose import poses_to_actions, propagate_pose

__all__ = [
    "ACPredictorConfig",
    "EnergyLandscape",
    "FrameTransform",
    "VJEPA2ACConfig",
    "WorldModel",
    "cem",
    "draw_landscape",
    "energy_landscape",
    "load_world_model",
    "poses_to_actions",
    "propagate_pose",
    "vitg_ac_config",
]
