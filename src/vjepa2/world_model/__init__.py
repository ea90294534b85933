"""V-JEPA 2-AC as a world model: load it, encode frames, predict, compute losses, plan actions."""

from vjepa2.models.ac_predictor import AC_MODEL_TYPE, ACPredictorConfig, VJEPA2ACConfig
from vjepa2.weights.ac import is_ac_checkpoint
from vjepa2.weights.families import OwnFormat, register_own_format
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

# vjepa2.load of an AC checkpoint gives the world model (planning methods and all).
register_own_format(OwnFormat(AC_MODEL_TYPE, is_ac_checkpoint, load_world_model))
