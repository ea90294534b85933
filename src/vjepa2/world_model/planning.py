"""The cross-entropy method (CEM) over action trajectories, as V-JEPA 2-AC plans with it.

Each iteration samples trajectories ``[samples, horizon, action_dim]`` from a per-step Gaussian,
clips them, scores them all at once with an energy function, and moves the Gaussian towards the
``topk`` lowest-energy ones with momentum (``new = (1 - m) * topk_stat + m * old``). The answer is
the final mean. Defaults are the original planner's: 400 samples, top 10, 10 iterations,
momentum 0.15, translation steps within ±0.05, gripper steps within ±0.75.

Only the ``planned_dims`` are sampled; the others stay at their ``fixed`` value (0 unless given),
as the original fixes the rotation deltas to 0. A ``gripper_dim`` among the planned dims gets its
own initial std, clip bound and momenta, and is rounded to 0 below ``gripper_round`` at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

EnergyFn = Callable[[torch.Tensor], torch.Tensor]


def _dims(
    action_dim: int, planned_dims: Sequence[int] | None, gripper_dim: int | None
) -> tuple[list[int], int | None]:
    """Planned dims (non-negative, in order) and the gripper's index among them (or None)."""
    dims = list(range(action_dim)) if planned_dims is None else list(planned_dims)
    dims = [d % action_dim if -action_dim <= d < action_dim else d for d in dims]
    bad = [d for d in dims if not 0 <= d < action_dim]
    if bad or not dims or len(set(dims)) != len(dims):
        raise ValueError(
            f"planned_dims must be distinct dims of the {action_dim}-D action, got {planned_dims}"
        )
    if gripper_dim is None:
        return dims, None
    gripper = gripper_dim % action_dim
    if gripper not in dims:
        raise ValueError(f"gripper_dim {gripper_dim} is not among the planned dims {dims}")
    return dims, dims.index(gripper)


def _check_counts(horizon: int, samples: int, topk: int, iterations: int) -> None:
    if horizon < 1 or iterations < 1:
        raise ValueError(f"horizon ({horizon}) and iterations ({iterations}) must be >= 1")
    if not 2 <= topk <= samples:
        raise ValueError(f"need 2 <= topk ({topk}) <= samples ({samples})")


def cem(
    energy_fn: EnergyFn,
    horizon: int,
    action_dim: int,
    *,
    samples: int = 400,
    topk: int = 10,
    iterations: int = 10,
    momentum_mean: float = 0.15,
    momentum_std: float = 0.15,
    momentum_mean_gripper: float = 0.15,
    momentum_std_gripper: float = 0.15,
    maxnorm: float = 0.05,
    gripper_max: float = 0.75,
    gripper_std: float = 1.0,
    gripper_round: float = 0.25,
    planned_dims: Sequence[int] | None = None,
    gripper_dim: int | None = None,
    fixed: Mapping[int, float] | None = None,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Plan an action trajectory by CEM.

    Args:
        energy_fn: candidate trajectories ``[samples, horizon, action_dim]`` -> energies
            ``[samples]`` (lower is better), all scored in one call.
        horizon / action_dim: the trajectory's shape.
        samples / topk / iterations: trajectories per iteration, how many update the Gaussian,
            and how many iterations.
        momentum_mean / momentum_std (and the ``_gripper`` ones): weight of the old mean / std.
        maxnorm: initial std and clip bound of every planned dim but the gripper.
        gripper_max / gripper_std / gripper_round: the gripper's clip bound, initial std, and the
            magnitude below which the planned gripper action is set to 0.
        planned_dims: the dims sampled (default all); the others are ``fixed`` (default 0).
        gripper_dim: which planned dim is the gripper (None: no gripper).
        generator: the random source (seed one for a deterministic plan); sampling runs on its
            device and the samples move to ``device``.

    Returns:
        The mean trajectory ``[horizon, action_dim]``.
    """
    _check_counts(horizon, samples, topk, iterations)
    dims, grip = _dims(action_dim, planned_dims, gripper_dim)
    base = torch.zeros(horizon, action_dim, device=device, dtype=dtype)
    for dim, value in (fixed or {}).items():
        base[:, dim] = value

    def per_dim(value: float, gripper_value: float) -> torch.Tensor:
        out = torch.full((len(dims),), value, device=device, dtype=dtype)
        if grip is not None:
            out[grip] = gripper_value
        return out

    bound = per_dim(maxnorm, gripper_max)
    m_mean = per_dim(momentum_mean, momentum_mean_gripper)
    m_std = per_dim(momentum_std, momentum_std_gripper)
    mean = base[:, dims].clone()
    std = per_dim(maxnorm, gripper_std).expand(horizon, -1).clone()
    sample_device = generator.device if generator is not None else torch.device("cpu")
    for _ in range(iterations):
        noise = torch.randn(samples, horizon, len(dims), generator=generator,
                            device=sample_device, dtype=dtype)  # fmt: skip
        planned = torch.clamp(noise.to(device) * std + mean, -bound, bound)
        candidates = base.expand(samples, -1, -1).clone()
        candidates[..., dims] = planned
        energies = energy_fn(candidates)
        best = planned[energies.topk(topk, largest=False).indices]
        mean = (1.0 - m_mean) * best.mean(0) + m_mean * mean
        std = (1.0 - m_std) * best.std(0) + m_std * std
    plan = base.clone()
    plan[:, dims] = mean
    if grip is not None:
        g = dims[grip]
        plan[:, g] = torch.where(plan[:, g].abs() < gripper_round, 0.0, plan[:, g])
    return plan
