"""Robot trajectory datasets: episodes of video + per-frame states (+ actions), as files.

The layout, written by ``vjepa2 make-robot-data`` and read by ``vjepa2 train-ac``::

    DATASET/
      train/
        <name>.mp4     the episode's video: T frames (any codec the package decodes;
                       `write_episode` writes H.264)
        <name>.npz     states   float32 [T, S]    the robot state at each frame
                       actions  float32 [T-1, A]  optional: the action taken between frame t
                                                  and t+1
                       fps      float             frame rate of the states (and the video)
                       (other arrays are allowed and ignored by the reader)
      val/
        ...            the same, for validation

An episode is the pair ``<name>.mp4`` + ``<name>.npz``; the ``.npz`` is written last, so an
episode without it is incomplete. States follow the DROID convention when S = 7: ``[x, y, z,
roll, pitch, yaw, gripper]`` with extrinsic xyz Euler angles (SciPy's ``"xyz"``:
``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)``) and the gripper in [0, 1]. Any other S is allowed.

When an episode has no ``actions``, `read_episode` derives them from consecutive states as the
original V-JEPA 2-AC data loader does (`actions_from_states`): ``[Δxyz, euler(R_{t+1} @ R_tᵀ),
Δgripper]`` for S = 7, the plain difference ``s_{t+1} - s_t`` for any other S. `propagate_states`
is its inverse: xyz added, ``R_{t+1} = R_Δ @ R_t``, gripper added and clipped to [0, 1]. The pose
math itself (`euler_to_matrix`, `matrix_to_euler`, `propagate_pose`) lives in `vjepa2.sim.pose`,
shared with the toy robot world, and is re-exported here.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vjepa2.data.motion import X264_OPTIONS
from vjepa2.errors import UsageError
from vjepa2.files import atomic_write
from vjepa2.sim.pose import POSE_DIM, euler_to_matrix, matrix_to_euler, propagate_pose
from vjepa2.video.decode import VideoDecodeError, video_info
from vjepa2.video.writer import encode_video

SPLITS: tuple[str, ...] = ("train", "val")
VIDEO_SUFFIX = ".mp4"
DATA_SUFFIX = ".npz"


class TrajectoryError(UsageError):
    """An episode file that is missing or does not follow the format; the message names it."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"bad episode {self.path!r}: {reason}")

    def __reduce__(self):
        return type(self), (self.path, self.reason)


# ----------------------------------------------------------------------------- actions


def actions_from_states(states: np.ndarray) -> np.ndarray:
    """The actions between consecutive states, as the original derives them.

    states: ``[T, S]`` -> float32 ``[T-1, S]``. S = 7: ``[Δxyz, euler(R_{t+1} @ R_tᵀ), Δgripper]``;
    any other S: ``s_{t+1} - s_t``.
    """
    states = np.asarray(states, dtype=np.float64)
    deltas = states[1:] - states[:-1]
    if states.shape[-1] == POSE_DIM:
        rotations = euler_to_matrix(states[:, 3:6])
        relative = rotations[1:] @ np.swapaxes(rotations[:-1], -1, -2)
        deltas[:, 3:6] = matrix_to_euler(relative)
    return deltas.astype(np.float32)


def propagate_states(start: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """The states reached from ``start`` [S] by ``actions`` [T-1, S]: float64 ``[T, S]``.

    The inverse of `actions_from_states` (S = 7: `propagate_pose`; otherwise a running sum).
    """
    states = [np.asarray(start, dtype=np.float64)]
    for action in np.asarray(actions, dtype=np.float64):
        if states[0].shape[-1] == POSE_DIM:
            states.append(propagate_pose(states[-1], action))
        else:
            states.append(states[-1] + action)
    return np.stack(states)


# ----------------------------------------------------------------------------- episodes


@dataclass(frozen=True)
class Episode:
    """One episode as read from disk.

    frames_path: the video (T frames). states: float32 [T, S]. actions: float32 [T-1, A], read
    from the file or derived from the states (``actions_derived``). fps: the frame rate.
    """

    frames_path: Path
    states: np.ndarray
    actions: np.ndarray
    fps: float
    actions_derived: bool = False

    @property
    def name(self) -> str:
        return self.frames_path.stem

    @property
    def num_frames(self) -> int:
        return len(self.states)


def episode_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(video, data) paths of the episode named by its .mp4, its .npz or their common stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (VIDEO_SUFFIX, DATA_SUFFIX) else path
    return stem.with_name(stem.name + VIDEO_SUFFIX), stem.with_name(stem.name + DATA_SUFFIX)


def write_episode(
    directory: str | os.PathLike,
    name: str,
    frames: np.ndarray,
    states: np.ndarray,
    actions: np.ndarray | None = None,
    fps: float = 4.0,
    extras: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write ``<name>.mp4`` (frames: uint8 [T, H, W, 3], H.264) then ``<name>.npz``; return the
    .npz path. states: [T, S]; actions: [T-1, A] or None (derived when read); ``extras`` are
    further arrays stored in the .npz (e.g. object positions). Each file is renamed into place
    when complete, the .npz last, so an interrupted write leaves no half episode behind."""
    video, data = episode_paths(Path(directory) / name)
    states = np.asarray(states, dtype=np.float32)
    arrays = dict(extras or {})
    arrays.update(states=states, fps=np.float32(fps))
    if actions is not None:
        arrays["actions"] = np.asarray(actions, dtype=np.float32)
    _validate(data, arrays, len(frames))
    with atomic_write(video, fsync=False) as tmp:
        encode_video(tmp, frames, fps=fps, container_format="mp4", options=X264_OPTIONS)
    with atomic_write(data, fsync=False) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return data


def _load(data: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(data, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise TrajectoryError(data, "file not found") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise TrajectoryError(data, f"not a readable .npz file ({err})") from None


def _validate(data: Path, arrays: dict[str, np.ndarray], num_frames: int | None = None) -> None:
    """Raise TrajectoryError unless ``arrays`` hold a well-formed episode."""
    if "states" not in arrays:
        raise TrajectoryError(data, f"no 'states' array (found: {sorted(arrays)})")
    states = arrays["states"]
    if states.ndim != 2 or len(states) < 2:
        raise TrajectoryError(data, f"'states' must be [T >= 2, S], got {list(states.shape)}")
    if not np.isfinite(states).all():
        raise TrajectoryError(data, "'states' holds NaN or infinite values")
    actions = arrays.get("actions")
    if actions is not None and (actions.ndim != 2 or len(actions) != len(states) - 1):
        raise TrajectoryError(
            data, f"'actions' must be [T-1 = {len(states) - 1}, A], got {list(actions.shape)}"
        )
    if actions is not None and not np.isfinite(actions).all():
        raise TrajectoryError(data, "'actions' holds NaN or infinite values")
    fps = arrays.get("fps")
    if fps is None or np.size(fps) != 1 or not float(fps) > 0:
        raise TrajectoryError(data, f"'fps' must be one positive number, got {fps!r}")
    if num_frames is not None and num_frames != len(states):
        raise TrajectoryError(
            data, f"{len(states)} states for {num_frames} video frames (one state per frame)"
        )


def read_episode(path: str | os.PathLike, check_video: bool = True) -> Episode:
    """Read the episode named by its .mp4, .npz or stem (see the module docstring).

    Raises `TrajectoryError` naming the file when a file is missing or malformed; with
    ``check_video`` the video's header must exist, decode and hold one frame per state.
    """
    video, data = episode_paths(path)
    arrays = _load(data)
    _validate(data, arrays)
    if not video.is_file():
        raise TrajectoryError(video, "video file not found (every .npz needs its .mp4)")
    if check_video:
        try:
            num_frames = video_info(video).num_frames
        except VideoDecodeError as err:
            raise TrajectoryError(video, err.reason) from None
        _validate(data, arrays, num_frames)
    states = arrays["states"].astype(np.float32)
    derived = "actions" not in arrays
    actions = actions_from_states(states) if derived else arrays["actions"].astype(np.float32)
    return Episode(video, states, actions, float(arrays["fps"]), derived)


def list_episodes(root: str | os.PathLike, split: str = "train") -> list[Path]:
    """The episodes (their .npz paths, sorted by name) of ``root/split``."""
    folder = Path(root) / split
    if not folder.is_dir():
        raise TrajectoryError(folder, f"no {split!r} folder (a dataset holds {', '.join(SPLITS)})")
    return sorted(p for p in folder.glob(f"*{DATA_SUFFIX}") if not p.name.startswith("."))
