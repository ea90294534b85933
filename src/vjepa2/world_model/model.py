"""The world model: a frozen V-JEPA 2 encoder and the action-conditioned predictor on its tokens.

Names follow the paper and the original training/planning code:

* ``h = wm.encode_frames(video)``: each frame encoded alone (as a tubelet of copies of itself)
  and layer-normed without affine, the prediction target;
* ``z = wm.predictor(h, actions, states)``: the raw predictor;
* ``wm.losses(h, actions, states, rollout_steps)``: teacher-forcing and rollout L1 losses;
* ``wm.energy(start_h, goal_h, candidates, start_pose)``: planning energy of K trajectories;
* ``wm.plan(start_frame, goal_frame, pose)``: CEM over action trajectories.

Shapes: B clips, T frames, N tokens per frame (``(crop_size / patch_size)²``), D encoder width,
A action dims, S state dims, K candidate trajectories, H planning horizon.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from vjepa2.models.ac_predictor import VJEPA2ACConfig, VJEPA2ACModel
from vjepa2.weights import ac
from vjepa2.weights.strict import CheckpointError
from vjepa2.world_model.config import vitg_ac_config
from vjepa2.world_model.frames import FrameTransform
from vjepa2.world_model.planning import cem
from vjepa2.world_model.pose import POSE_DIM, propagate_pose

PoseFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def normalize(x: torch.Tensor) -> torch.Tensor:
    """Layer norm over the feature dim, without affine (eps 1e-5), as the AC targets."""
    return F.layer_norm(x, (x.size(-1),))


def _l1(z: torch.Tensor, target: torch.Tensor, loss_exp: float) -> torch.Tensor:
    return torch.mean(torch.abs(z - target) ** loss_exp) / loss_exp


class WorldModel(VJEPA2ACModel):
    """V-JEPA 2-AC as a world model. The encoder is frozen (no gradients); the predictor is the
    :class:`~vjepa2.models.ac_predictor.ACPredictor` (``wm.predictor(h, actions, states)``)."""

    def __init__(self, config: VJEPA2ACConfig) -> None:
        super().__init__(config)
        self.encoder.requires_grad_(False)

    @property
    def tokens_per_frame(self) -> int:
        return self.predictor.tokens_per_frame

    @property
    def transform(self) -> FrameTransform:
        """The matching frame transform: uint8 ``[..., H, W, 3]`` -> ``[..., 3, crop, crop]``."""
        return FrameTransform(self.config.encoder.crop_size)

    def num_frames(self, h: torch.Tensor) -> int:
        """T of frame tokens ``[B, T*N, D]``; checks the shape."""
        n = self.tokens_per_frame
        if h.dim() != 3 or h.size(1) % n or h.size(1) == 0:
            raise ValueError(f"expected frame tokens [B, T*{n}, D], got shape {list(h.shape)}")
        return h.size(1) // n

    # -- encoding -----------------------------------------------------------------------

    @torch.no_grad()
    def encode_frames(self, video: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """Encode every frame on its own, as the AC training target.

        Args:
            video: normalised pixels ``[B, T, C, H, W]`` at the encoder's crop size.
            batch_size: frames per encoder call (default all B*T at once).

        Returns:
            ``[B, T*N, D]``: each frame duplicated into a tubelet, encoded, layer-normed.
        """
        if video.dim() != 5:
            raise ValueError(f"expected video [B, T, C, H, W], got shape {list(video.shape)}")
        b, t = video.shape[:2]
        _, hp, wp = self.encoder.token_grid((b, 1, *video.shape[2:]))
        if (hp, wp) != self.predictor.grid_hw:
            size = self.config.encoder.crop_size
            raise ValueError(
                f"frames of {video.shape[-2]}x{video.shape[-1]} give a {hp}x{wp} token grid; "
                f"the predictor works on {size}x{size} frames"
            )
        frames = video.flatten(0, 1)[:, None]  # the encoder repeats a frame into a tubelet
        step = batch_size or frames.size(0)
        h = torch.cat([self.encoder(chunk) for chunk in frames.split(step)])
        return normalize(h.view(b, t * h.size(1), h.size(-1)))

    # -- prediction and losses ----------------------------------------------------------

    def predict_next(
        self,
        h: torch.Tensor,
        actions: torch.Tensor,
        states: torch.Tensor,
        extrinsics: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The predictor's output layer-normed: ``[B, T*N, D]``, frame t predicting t+1."""
        return normalize(self.predictor(h, actions, states, extrinsics))

    def _inputs(
        self,
        h: torch.Tensor,
        actions: torch.Tensor,
        states: torch.Tensor,
        extrinsics: torch.Tensor | None,
    ) -> tuple[int, torch.Tensor, torch.Tensor | None]:
        """T, and states / extrinsics cut to the T-1 context frames; checks the action count."""
        t = self.num_frames(h)
        if t < 2:
            raise ValueError("teacher forcing needs at least 2 frames")
        if actions.dim() != 3 or actions.size(1) != t - 1:
            raise ValueError(
                f"{t} frames need {t - 1} actions [B, {t - 1}, A], got {list(actions.shape)}"
            )
        for name, value in (("states", states), ("extrinsics", extrinsics)):
            if value is not None and (value.dim() != 3 or value.size(1) not in (t - 1, t)):
                raise ValueError(
                    f"{name} must be [B, {t}, ...] (or [B, {t - 1}, ...]) for {t} frames, "
                    f"got {list(value.shape)}"
                )
        cut = extrinsics[:, : t - 1] if extrinsics is not None else None
        return t, states[:, : t - 1], cut

    def teacher_forcing(
        self,
        h: torch.Tensor,
        actions: torch.Tensor,
        states: torch.Tensor,
        extrinsics: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict frames 1..T-1 from the true frames 0..T-2.

        Args:
            h: ``[B, T*N, D]`` from :meth:`encode_frames`.
            actions: ``[B, T-1, A]``; states ``[B, T, S]`` (the last is not used).

        Returns:
            ``[B, (T-1)*N, D]``, layer-normed.
        """
        _, states, extrinsics = self._inputs(h, actions, states, extrinsics)
        return self.predict_next(h[:, : -self.tokens_per_frame], actions, states, extrinsics)

    def rollout(
        self,
        h: torch.Tensor,
        actions: torch.Tensor,
        states: torch.Tensor,
        steps: int = 2,
        extrinsics: torch.Tensor | None = None,
        z_tf: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The original's auto-regressive rollout: start from frame 0 and the teacher-forced
        frame 1, then predict frames 2..``steps`` from the model's own predictions (with the
        true actions and states).

        Returns:
            ``[B, steps*N, D]``: the predictions of frames 1..``steps``, layer-normed.
        """
        t, _, _ = self._inputs(h, actions, states, extrinsics)
        if not 1 <= steps <= t - 1:
            raise ValueError(f"rollout steps must be in 1..{t - 1} for {t} frames, got {steps}")
        n = self.tokens_per_frame
        if z_tf is None:
            z_tf = self.teacher_forcing(h, actions, states, extrinsics)
        z = torch.cat([h[:, :n], z_tf[:, :n]], dim=1)
        for step in range(1, steps):
            ext = extrinsics[:, : step + 1] if extrinsics is not None else None
            nxt = self.predict_next(z, actions[:, : step + 1], states[:, : step + 1], ext)
            z = torch.cat([z, nxt[:, -n:]], dim=1)
        return z[:, n:]

    def losses(
        self,
        h: torch.Tensor,
        actions: torch.Tensor,
        states: torch.Tensor,
        rollout_steps: int = 2,
        extrinsics: torch.Tensor | None = None,
        loss_exp: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forcing and rollout losses: ``mean(|z - h_next| ** loss_exp) / loss_exp``
        against the encodings one frame ahead (the original trains on their sum).

        Args:
            h: ``[B, T*N, D]``; actions ``[B, T-1, A]``; states ``[B, T, S]``.

        Returns:
            ``(teacher_forcing_loss, rollout_loss)``, scalars.
        """
        n = self.tokens_per_frame
        z_tf = self.teacher_forcing(h, actions, states, extrinsics)
        z_ar = self.rollout(h, actions, states, rollout_steps, extrinsics, z_tf=z_tf)
        tf = _l1(z_tf, h[:, n : n + z_tf.size(1)], loss_exp)
        return tf, _l1(z_ar, h[:, n : n + z_ar.size(1)], loss_exp)

    # -- planning -----------------------------------------------------------------------

    def _pose_fn(self, pose_fn: PoseFn | None) -> PoseFn:
        if pose_fn is not None:
            return pose_fn
        c = self.config.predictor
        if c.state_dim == POSE_DIM and c.action_dim == POSE_DIM:
            return propagate_pose
        if c.state_dim == c.action_dim:
            return torch.add
        raise ValueError(
            f"no default pose update for {c.state_dim}-D states and {c.action_dim}-D actions: "
            "pass pose_fn(pose [K, S], action [K, A]) -> [K, S]"
        )

    def energy(
        self,
        start_h: torch.Tensor,
        goal_h: torch.Tensor,
        candidates: torch.Tensor,
        start_pose: torch.Tensor,
        *,
        pose_fn: PoseFn | None = None,
        extrinsics: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Planning energy of K action trajectories: roll each out from the start frame and
        compare the last predicted frame with the goal, ``mean |ẑ_H - goal|``.

        Each step is one predictor call on all K trajectories: the frames so far, the actions so
        far and the poses so far (each pose propagated from the last by ``pose_fn``; default
        :func:`propagate_pose` for 7-D poses, addition for other equal-size states).

        Args:
            start_h: the start frame's encoding ``[N, D]`` or ``[1, N, D]``.
            goal_h: the goal frame's encoding ``[N, D]`` or ``[1, N, D]``.
            candidates: ``[K, H, A]``.
            start_pose: ``[S]`` (or ``[1, S]``, ``[1, 1, S]``).
            extrinsics: ``[E]``, held for every step (only with ``use_extrinsics``).

        Returns:
            ``[K]``.
        """
        n = self.tokens_per_frame
        start_h, goal_h = (
            start_h.reshape(1, -1, start_h.size(-1)),
            goal_h.reshape(1, -1, goal_h.size(-1)),
        )
        if start_h.size(1) != n or goal_h.size(1) != n:
            raise ValueError(
                f"start_h and goal_h must each be one frame [{n}, D], got "
                f"{list(start_h.shape)} and {list(goal_h.shape)}"
            )
        if candidates.dim() != 3:
            raise ValueError(f"candidates must be [K, H, A], got {list(candidates.shape)}")
        step_pose = self._pose_fn(pose_fn)
        k, horizon = candidates.shape[:2]
        candidates = candidates.to(start_h.device)
        frames = start_h.expand(k, -1, -1)
        poses = [start_pose.to(start_h.device).reshape(1, -1).expand(k, -1)]
        ext = None if extrinsics is None else extrinsics.reshape(1, 1, -1).to(start_h.device)
        for step in range(horizon):
            cond = None if ext is None else ext.expand(k, step + 1, -1)
            z = self.predict_next(frames, candidates[:, : step + 1], torch.stack(poses, 1), cond)
            frames = torch.cat([frames, z[:, -n:]], dim=1)
            if step + 1 < horizon:
                poses.append(step_pose(poses[-1], candidates[:, step]))
        return (frames[:, -n:] - goal_h).abs().flatten(1).mean(1)

    def plan(
        self,
        start_frame: torch.Tensor,
        goal_frame: torch.Tensor,
        pose: torch.Tensor,
        *,
        horizon: int = 2,
        planned_dims: Sequence[int] | None = None,
        gripper_dim: int | Literal["auto"] | None = "auto",
        seed: int | None = None,
        generator: torch.Generator | None = None,
        pose_fn: PoseFn | None = None,
        extrinsics: torch.Tensor | None = None,
        **cem_options,
    ) -> torch.Tensor:
        """Plan actions from a start frame towards a goal frame by CEM (model-predictive control:
        execute the first action, observe, plan again).

        Args:
            start_frame / goal_frame: normalised pixels ``[C, H, W]`` (or ``[1, C, H, W]``,
                ``[1, 1, C, H, W]``) at the encoder's crop size.
            pose: the current state ``[S]``.
            horizon: steps planned (the original: 2).
            planned_dims: action dims sampled; the others stay 0 (``fixed=`` sets other values).
                Default: for 7-D actions xyz and gripper (0, 1, 2, 6), rotation fixed to 0, as
                the original; all dims otherwise.
            gripper_dim: the gripper's dim ("auto": 6 for 7-D actions, none otherwise).
            seed / generator: for a deterministic plan.
            **cem_options: the other knobs of :func:`~vjepa2.world_model.planning.cem`
                (samples 400, topk 10, iterations 10, momentum 0.15, maxnorm 0.05, ...).

        Returns:
            The planned actions ``[horizon, A]``.
        """
        frames = torch.stack([f.reshape(f.shape[-3:]) for f in (start_frame, goal_frame)])
        device = self.predictor.predictor_embed.weight.device
        start_h, goal_h = self.encode_frames(frames[:, None].to(device)).chunk(2)
        return self.plan_from_encodings(
            start_h, goal_h, pose, horizon=horizon, planned_dims=planned_dims,
            gripper_dim=gripper_dim, seed=seed, generator=generator, pose_fn=pose_fn,
            extrinsics=extrinsics, **cem_options,
        )  # fmt: skip

    @torch.no_grad()
    def plan_from_encodings(
        self,
        start_h: torch.Tensor,
        goal_h: torch.Tensor,
        pose: torch.Tensor,
        *,
        horizon: int = 2,
        planned_dims: Sequence[int] | None = None,
        gripper_dim: int | Literal["auto"] | None = "auto",
        seed: int | None = None,
        generator: torch.Generator | None = None,
        pose_fn: PoseFn | None = None,
        extrinsics: torch.Tensor | None = None,
        **cem_options,
    ) -> torch.Tensor:
        """:meth:`plan` from encoded frames ``[N, D]`` (as :meth:`encode_frames` gives them)."""
        action_dim = self.config.predictor.action_dim
        original = action_dim == POSE_DIM
        if planned_dims is None and original:
            planned_dims = (0, 1, 2, 6)
        if gripper_dim == "auto":
            gripper_dim = 6 if original else None
        if generator is None and seed is not None:
            generator = torch.Generator().manual_seed(seed)

        def energy(candidates: torch.Tensor) -> torch.Tensor:
            return self.energy(start_h, goal_h, candidates, pose, pose_fn=pose_fn,
                               extrinsics=extrinsics)  # fmt: skip

        return cem(
            energy, horizon, action_dim, planned_dims=planned_dims, gripper_dim=gripper_dim,
            generator=generator, device=start_h.device, **cem_options,
        )  # fmt: skip

    # -- saving ---------------------------------------------------------------------------

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Our format: ``config.json`` (model type ``vjepa2_ac``) + ``model.safetensors``."""
        return ac.save_ac_pretrained(self, directory)

    def save_original(self, path: str | os.PathLike, with_config: bool = False) -> Path:
        """Meta's layout ``{"encoder", "predictor"}`` with ``module.backbone.`` keys."""
        return ac.save_ac_original(self, path, with_config=with_config)


def load_world_model(
    path: str | os.PathLike,
    config: VJEPA2ACConfig | Mapping | str | os.PathLike | None = None,
    *,
    dtype: torch.dtype | None = torch.float32,
    device: str | torch.device = "cpu",
) -> WorldModel:
    """Load a world model from Meta's AC ``.pt`` or our directory format.

    Args:
        path: ``vjepa2-ac-vitg.pt`` (or any ``{"encoder", "predictor"}`` file) or a directory
            with ``config.json`` + ``model.safetensors``.
        config: the architecture: a :class:`VJEPA2ACConfig`, a ``config.json`` dict or path.
            Needed for a ``.pt`` of another size than the released ViT-g one (which is
            recognised by its shapes).
        dtype / device: where the weights go (``dtype=None`` keeps the checkpoint's).

    Raises:
        CheckpointError: the file is not an AC checkpoint, or does not match the config
            (listing every bad key).
    """
    stored, state = ac.read_ac(path)
    if config is not None:
        stored = ac.resolve_config(config)
    if stored is None:
        released = vitg_ac_config()
        if not ac.config_fits(released, state):
            raise CheckpointError(
                f"{path}: not the released ViT-g AC size, and a .pt carries no architecture: "
                "pass config= (a VJEPA2ACConfig or a config.json of model type 'vjepa2_ac')"
            )
        stored = released
    return ac.build_ac(stored, state, str(path), WorldModel, dtype, device)
