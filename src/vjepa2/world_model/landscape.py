"""The planning energy over a grid of one-step translations: the original notebook's landscape.

The notebook sweeps Δx, Δy and Δz over ``np.linspace(-0.075, 0.075, 5)`` each, with the rotation
and gripper deltas 0, rolls every action out one step from the start frame and scores it against
the goal (:meth:`WorldModel.energy`). A good world model has its minimum near the move that
reaches the goal. :func:`energy_landscape` computes the grid (all actions in batched predictor
calls); :func:`draw_landscape` writes it as a PNG with one Δx-Δy heatmap per Δz slice
(matplotlib, from the ``[train]`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vjepa2.world_model.model import WorldModel

EXTENT = 0.075
POINTS = 5
XYZ_DIMS = (0, 1, 2)


@dataclass(frozen=True)
class EnergyLandscape:
    """Energies of the one-step actions ``(dx[i], dy[j], dz[k])``: ``energy[k, j, i]``.

    Attributes:
        dx / dy / dz: the swept values ``[X]``, ``[Y]``, ``[Z]``.
        energy: ``[Z, Y, X]`` (a Δx-Δy image per Δz slice).
    """

    dx: torch.Tensor
    dy: torch.Tensor
    dz: torch.Tensor
    energy: torch.Tensor

    def minimum(self) -> tuple[float, float, float]:
        """The ``(dx, dy, dz)`` of the lowest energy."""
        k, j, i = (int(t) for t in torch.unravel_index(self.energy.argmin(), self.energy.shape))
        return float(self.dx[i]), float(self.dy[j]), float(self.dz[k])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the axes, ``energy[z][y][x]`` and the minimum."""
        dx, dy, dz = self.minimum()
        return {
            "dx": self.dx.tolist(),
            "dy": self.dy.tolist(),
            "dz": self.dz.tolist(),
            "energy": self.energy.tolist(),
            "minimum": {"dx": dx, "dy": dy, "dz": dz, "energy": float(self.energy.min())},
        }


def grid_actions(
    dx: torch.Tensor, dy: torch.Tensor, dz: torch.Tensor, action_dim: int, xyz_dims: Sequence[int]
) -> torch.Tensor:
    """One-step candidates ``[Z*Y*X, 1, action_dim]`` in ``energy[k, j, i]`` order, every other
    action dim 0."""
    if len(xyz_dims) != 3 or len(set(xyz_dims)) != 3:
        raise ValueError(f"xyz_dims must be 3 distinct action dims, got {list(xyz_dims)}")
    if not all(-action_dim <= d < action_dim for d in xyz_dims):
        raise ValueError(f"xyz_dims {list(xyz_dims)} are not dims of the {action_dim}-D action")
    z, y, x = torch.meshgrid(dz, dy, dx, indexing="ij")
    actions = torch.zeros(x.numel(), 1, action_dim, dtype=dx.dtype)
    for dim, values in zip(xyz_dims, (x, y, z), strict=True):
        actions[:, 0, dim] = values.reshape(-1)
    return actions


@torch.no_grad()
def energy_landscape(
    wm: WorldModel,
    start_h: torch.Tensor,
    goal_h: torch.Tensor,
    pose: torch.Tensor,
    *,
    points: int = POINTS,
    extent: float = EXTENT,
    dz: Sequence[float] | None = None,
    xyz_dims: Sequence[int] = XYZ_DIMS,
    batch_size: int | None = None,
    **energy_options,
) -> EnergyLandscape:
    """The energy of every one-step translation on a grid (the notebook's sweep).

    Args:
        wm: the world model (its :meth:`~WorldModel.energy` scores the actions).
        start_h / goal_h: the start and goal frames' encodings ``[N, D]``.
        pose: the current state ``[S]``.
        points / extent: Δx and Δy take ``points`` values in ``[-extent, extent]``.
        dz: the Δz slices (default the same ``points`` values as Δx).
        xyz_dims: the action dims of Δx, Δy, Δz.
        batch_size: actions per :meth:`~WorldModel.energy` call (default all at once).
        **energy_options: passed to :meth:`~WorldModel.energy` (``pose_fn``, ``extrinsics``).

    Returns:
        An :class:`EnergyLandscape` (energies ``[Z, Y, X]`` in float32 on the CPU).
    """
    if points < 2 or extent <= 0:
        raise ValueError(f"need points >= 2 and extent > 0, got {points} and {extent}")
    axis = torch.linspace(-extent, extent, points)
    slices = axis if dz is None else torch.tensor(list(dz), dtype=torch.float32).reshape(-1)
    if slices.numel() == 0:
        raise ValueError("dz needs at least one slice")
    actions = grid_actions(axis, axis, slices, wm.config.predictor.action_dim, xyz_dims)
    energies = torch.cat([
        wm.energy(start_h, goal_h, chunk, pose, **energy_options).float().cpu()
        for chunk in actions.split(batch_size or actions.size(0))
    ])  # fmt: skip
    return EnergyLandscape(axis, axis, slices, energies.view(slices.numel(), points, points))


def require_matplotlib() -> None:
    """Raise a clear ImportError when matplotlib (the ``[train]`` extra) is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "drawing the energy landscape needs matplotlib: pip install vjepa2[train]"
        ) from err


def draw_landscape(
    landscape: EnergyLandscape, path: str | os.PathLike, title: str | None = None
) -> Path:
    """Write the landscape as a PNG: a Δx-Δy heatmap per Δz slice on one colour scale, the
    lowest energy marked with a cross.

    Raises:
        ImportError: matplotlib is not installed (``pip install vjepa2[train]``).
    """
    require_matplotlib()
    from matplotlib.figure import Figure

    energy = landscape.energy.numpy()
    dx, dy = landscape.dx.numpy(), landscape.dy.numpy()
    half_x, half_y = (dx[1] - dx[0]) / 2, (dy[1] - dy[0]) / 2
    bounds = (dx[0] - half_x, dx[-1] + half_x, dy[0] - half_y, dy[-1] + half_y)
    best_x, best_y, best_z = landscape.minimum()
    slices = energy.shape[0]
    figure = Figure(figsize=(3.2 * slices + 1.2, 3.4), layout="constrained")
    axes = figure.subplots(1, slices, squeeze=False)[0]
    for k, ax in enumerate(axes):
        image = ax.imshow(
            energy[k], origin="lower", extent=bounds, aspect="equal", cmap="viridis",
            vmin=energy.min(), vmax=energy.max(), interpolation="nearest",
        )  # fmt: skip
        dz = float(landscape.dz[k])
        if dz == best_z:
            ax.plot([best_x], [best_y], marker="x", color="red", markersize=10, mew=2)
        ax.set_title(f"Δz = {dz:+.3f}")
        ax.set_xlabel("Δx")
        if k == 0:
            ax.set_ylabel("Δy")
    figure.colorbar(image, ax=list(axes), label="energy (L1 to the goal)")
    figure.suptitle(
        title or f"energy landscape, minimum at ({best_x:+.3f}, {best_y:+.3f}, {best_z:+.3f})"
    )
    path = Path(path)
    figure.savefig(path, dpi=100)
    return path
