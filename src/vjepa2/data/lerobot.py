"""Local LeRobot datasets (the v2.0 / v2.1 layout) read as trajectory episodes.

The layout, as LeRobot writes it (only what the reader uses is listed)::

    ROOT/
      meta/info.json       fps, total_episodes, chunks_size, data_path and video_path
                           (templates), features (name -> dtype, shape)
      meta/episodes.jsonl  optional: one line per episode ({"episode_index": 0, "length": ..})
      data/chunk-000/episode_000000.parquet
                           one row per frame; columns observation.state (a list of floats),
                           action (a list of floats), timestamp, frame_index, episode_index,
                           index, task_index
      videos/chunk-000/observation.images.<cam>/episode_000000.mp4
                           one video per episode and camera, one frame per row

Episode ``i`` lives in chunk ``i // chunks_size``; its files are the ``data_path`` and
``video_path`` templates of ``info.json`` filled with ``episode_chunk``, ``episode_index`` and
``video_key``. `read_lerobot_episode` returns the same `Episode` as
`vjepa2.data.trajectories.read_episode`: states ``[T, S]`` from the state column, the chosen
camera's video, the dataset's fps, and actions ``[T-1, A]``: LeRobot stores one action per
frame (the command sent at frame t, which leads to frame t+1), so the first T-1 rows are kept and
the last frame's action, which leads nowhere in the episode, is dropped.

Reading parquet needs pyarrow (the ``robot`` extra: ``pip install 'vjepa2[robot]'``), imported
by the functions that need it. A missing or malformed file, camera or column raises
`TrajectoryError` naming the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vjepa2.data.trajectories import Episode, TrajectoryError
from vjepa2.errors import VJEPA2Error
from vjepa2.video.decode import VideoDecodeError, video_info

INFO_FILE = Path("meta") / "info.json"
EPISODES_FILE = Path("meta") / "episodes.jsonl"
STATE_KEY = "observation.state"
ACTION_KEY = "action"
PYARROW_HINT = "pip install 'vjepa2[robot]'"


def is_lerobot(root: str | os.PathLike) -> bool:
    """Whether ``root`` is a LeRobot dataset (it holds ``meta/info.json``)."""
    return (Path(root) / INFO_FILE).is_file()


@dataclass(frozen=True)
class LeRobotInfo:
    """What ``meta/info.json`` says: the frame rate, the path templates and the features."""

    root: Path
    fps: float
    total_episodes: int
    chunks_size: int
    data_path: str
    video_path: str | None
    features: dict[str, Any]

    @property
    def cameras(self) -> list[str]:
        """The video features (``observation.images.<cam>``), in the order info.json lists them."""
        return [k for k, v in self.features.items() if isinstance(v, dict) and v.get("dtype")
                == "video"]  # fmt: skip

    def data_file(self, index: int) -> Path:
        """The parquet file of episode ``index``."""
        chunk = index // self.chunks_size
        return self.root / self.data_path.format(episode_chunk=chunk, episode_index=index)

    def video_file(self, index: int, camera: str) -> Path:
        """The video of episode ``index`` seen by ``camera`` (a full video key)."""
        chunk = index // self.chunks_size
        return self.root / str(self.video_path).format(
            episode_chunk=chunk, episode_index=index, video_key=camera
        )

    def camera(self, name: str | None) -> str:
        """The video key of ``name`` (the full key or its last part, e.g. ``top``); None: the
        first camera."""
        cameras = self.cameras
        if not cameras or self.video_path is None:
            raise TrajectoryError(self.root / INFO_FILE, "no video feature (dtype 'video')")
        if name is None:
            return cameras[0]
        for key in cameras:
            if name in (key, key.rsplit(".", 1)[-1]):
                return key
        raise TrajectoryError(self.root / INFO_FILE, f"no camera {name!r} (cameras: "
                              f"{', '.join(cameras)})")  # fmt: skip


def read_info(root: str | os.PathLike) -> LeRobotInfo:
    """Read ``ROOT/meta/info.json``; `TrajectoryError` naming it when missing or malformed."""
    root = Path(root)
    path = root / INFO_FILE
    try:
        info = json.loads(path.read_text())
        return LeRobotInfo(
            root, float(info["fps"]), int(info["total_episodes"]), int(info["chunks_size"]),
            str(info["data_path"]), info.get("video_path"), dict(info["features"]),
        )  # fmt: skip
    except FileNotFoundError:
        raise TrajectoryError(path, "file not found (LeRobot datasets have one)") from None
    except (OSError, ValueError, TypeError) as err:
        raise TrajectoryError(path, f"not a readable LeRobot info.json ({err})") from None
    except KeyError as err:
        raise TrajectoryError(path, f"no {err.args[0]!r} entry") from None


def list_lerobot_episodes(root: str | os.PathLike) -> list[int]:
    """The episode indices of the dataset, sorted: those of ``meta/episodes.jsonl`` when it
    exists, else ``0 .. total_episodes - 1``."""
    root = Path(root)
    info = read_info(root)
    path = root / EPISODES_FILE
    if not path.is_file():
        return list(range(info.total_episodes))
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        return sorted(int(json.loads(line)["episode_index"]) for line in lines)
    except (ValueError, KeyError, TypeError) as err:
        raise TrajectoryError(path, f"not a readable episodes.jsonl ({err!r})") from None


def _read_table(path: Path, columns: list[str]):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise VJEPA2Error(f"reading a LeRobot dataset needs pyarrow: {PYARROW_HINT}") from None
    if not path.is_file():
        raise TrajectoryError(path, "file not found")
    try:
        names = pq.read_schema(path).names
        missing = [c for c in columns if c not in names]
        if missing:
            raise TrajectoryError(path, f"no column {missing[0]!r} (columns: {', '.join(names)})")
        return pq.read_table(path, columns=columns)
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise TrajectoryError(path, f"not a readable parquet file ({err})") from None


def _matrix(path: Path, table, key: str) -> np.ndarray:
    """Column ``key`` as float32 ``[T, D]`` (a scalar column is ``[T, 1]``)."""
    try:
        values = np.asarray(table.column(key).to_pylist(), dtype=np.float32)
    except (ValueError, TypeError) as err:
        reason = f"column {key!r} is not a list of numbers per row ({err})"
        raise TrajectoryError(path, reason) from None
    values = values[:, None] if values.ndim == 1 else values
    if values.ndim != 2 or not np.isfinite(values).all():
        raise TrajectoryError(path, f"column {key!r} must hold finite [T, D] numbers")
    return values


def read_lerobot_episode(
    root: str | os.PathLike,
    index: int,
    camera: str | None = None,
    state_key: str = STATE_KEY,
    action_key: str = ACTION_KEY,
    check_video: bool = True,
) -> Episode:
    """Episode ``index`` of the LeRobot dataset at ``root`` (see the module docstring).

    camera: the video key (or its last part); None: the first video feature. states: float32
    ``[T, S]`` from ``state_key``; actions: the first T-1 rows of ``action_key``, ``[T-1, A]``.
    With ``check_video`` the video must decode and hold one frame per row.
    """
    info = read_info(root)
    key = info.camera(camera)
    data = info.data_file(index)
    table = _read_table(data, [state_key, action_key])
    states, actions = _matrix(data, table, state_key), _matrix(data, table, action_key)
    if len(states) < 2:
        raise TrajectoryError(data, f"{len(states)} rows: an episode needs at least 2 frames")
    if len(actions) != len(states):
        raise TrajectoryError(data, f"{len(actions)} actions for {len(states)} states")
    video = info.video_file(index, key)
    if not video.is_file():
        raise TrajectoryError(video, f"video file not found (camera {key!r})")
    if check_video:
        try:
            frames = video_info(video).num_frames
        except VideoDecodeError as err:
            raise TrajectoryError(video, err.reason) from None
        if frames != len(states):
            raise TrajectoryError(video, f"{frames} video frames for {len(states)} rows of "
                                  f"{data.name} (one frame per row)")  # fmt: skip
    return Episode(video, states, actions[:-1], info.fps)
