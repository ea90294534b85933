"""Local LeRobot datasets (v2 layout): a tiny synthetic one written with pyarrow and the package's
video writer reads back exactly (states, actions minus the last row, fps, the chunked paths), the
missing pieces are named, and ``vjepa2 train-ac`` trains on it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import vjepa2
from vjepa2.cli import app
from vjepa2.data.lerobot import is_lerobot, list_lerobot_episodes, read_lerobot_episode
from vjepa2.data.trajectories import TrajectoryError, write_episode
from vjepa2.errors import VJEPA2Error
from vjepa2.video.writer import encode_video
from vjepa2.world_model import ACPredictorConfig, VJEPA2ACConfig, WorldModel

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

LENGTHS = (8, 9, 10)  # frames of episodes 0, 1, 2
CAMERAS = ("observation.images.top", "observation.images.wrist")
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
runner = CliRunner()


def _write_episode(root: Path, index: int, length: int, rng: np.random.Generator) -> dict:
    states = rng.normal(size=(length, 7)).astype(np.float32)
    actions = rng.normal(size=(length, 7)).astype(np.float32)
    chunk = index // 2
    table = pa.table({
        "observation.state": pa.array(states.tolist(), type=pa.list_(pa.float32())),
        "action": pa.array(actions.tolist(), type=pa.list_(pa.float32())),
        "timestamp": pa.array(np.arange(length, dtype=np.float32) / 4),
        "frame_index": pa.array(np.arange(length)),
        "episode_index": pa.array(np.full(length, index)),
        "index": pa.array(np.arange(length) + 100 * index),
        "task_index": pa.array(np.zeros(length, dtype=np.int64)),
    })  # fmt: skip
    data = root / DATA_PATH.format(episode_chunk=chunk, episode_index=index)
    data.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, data)
    for camera in CAMERAS:
        video = root / VIDEO_PATH.format(episode_chunk=chunk, episode_index=index,
                                         video_key=camera)  # fmt: skip
        video.parent.mkdir(parents=True, exist_ok=True)
        frames = rng.integers(0, 255, (length, 32, 32, 3), dtype=np.uint8)
        encode_video(video, frames, fps=4, container_format="mp4")
    return {"states": states, "actions": actions, "data": data}


def _write_dataset(root: Path, episodes_file: bool = True) -> list[dict]:
    rng = np.random.default_rng(0)
    written = [_write_episode(root, i, n, rng) for i, n in enumerate(LENGTHS)]
    features = {
        "observation.state": {"dtype": "float32", "shape": [7]},
        "action": {"dtype": "float32", "shape": [7]},
        **{c: {"dtype": "video", "shape": [32, 32, 3]} for c in CAMERAS},
        "timestamp": {"dtype": "float32", "shape": [1]},
    }
    info = {"codebase_version": "v2.0", "fps": 4, "total_episodes": len(LENGTHS),
            "total_frames": sum(LENGTHS), "chunks_size": 2, "data_path": DATA_PATH,
            "video_path": VIDEO_PATH, "features": features}  # fmt: skip
    (root / "meta").mkdir(parents=True, exist_ok=True)
    (root / "meta" / "info.json").write_text(json.dumps(info))
    if episodes_file:
        lines = [json.dumps({"episode_index": i, "length": n, "tasks": ["push"]})
                 for i, n in enumerate(LENGTHS)]  # fmt: skip
        (root / "meta" / "episodes.jsonl").write_text("\n".join(lines) + "\n")
    return written


@pytest.fixture(scope="module")
def lerobot(tmp_path_factory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("lerobot")
    return root, _write_dataset(root)


def test_reads_states_actions_fps_and_chunked_paths(lerobot):
    root, written = lerobot
    assert is_lerobot(root) and not is_lerobot(root / "meta")
    assert list_lerobot_episodes(root) == [0, 1, 2]
    for index, expected in enumerate(written):
        episode = read_lerobot_episode(root, index)
        np.testing.assert_array_equal(episode.states, expected["states"])
        np.testing.assert_array_equal(episode.actions, expected["actions"][:-1])  # [T-1, A]
        assert episode.fps == 4.0 and not episode.actions_derived
        assert episode.num_frames == LENGTHS[index]
        chunk = f"chunk-{index // 2:03d}"
        assert episode.frames_path == (root / "videos" / chunk / CAMERAS[0]
                                       / f"episode_{index:06d}.mp4")  # fmt: skip
    wrist = read_lerobot_episode(root, 2, camera="wrist")
    assert wrist.frames_path.parent.name == "observation.images.wrist"
    assert read_lerobot_episode(root, 1, camera=CAMERAS[1]).frames_path.parts[-3] == "chunk-000"
    # Other columns as states and actions.
    swapped = read_lerobot_episode(root, 0, state_key="action", action_key="observation.state")
    np.testing.assert_array_equal(swapped.states, written[0]["actions"])


def test_lists_episodes_without_episodes_jsonl(lerobot, tmp_path):
    root, _ = lerobot
    info = json.loads((root / "meta" / "info.json").read_text())
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "info.json").write_text(json.dumps({**info, "total_episodes": 5}))
    assert list_lerobot_episodes(tmp_path) == [0, 1, 2, 3, 4]


def test_missing_camera_column_and_files_are_named(lerobot, tmp_path):
    root, _ = lerobot
    with pytest.raises(TrajectoryError, match=r"info\.json.*no camera 'side'.*wrist"):
        read_lerobot_episode(root, 0, camera="side")
    with pytest.raises(TrajectoryError, match=r"episode_000000\.parquet.*no column 'joints'"):
        read_lerobot_episode(root, 0, state_key="joints")
    with pytest.raises(TrajectoryError, match=r"episode_000007\.parquet.*file not found"):
        read_lerobot_episode(root, 7)
    with pytest.raises(TrajectoryError, match=r"info\.json.*file not found"):
        read_lerobot_episode(tmp_path, 0)
    copy = tmp_path / "copy"
    _write_dataset(copy, episodes_file=False)
    video = copy / VIDEO_PATH.format(episode_chunk=1, episode_index=2, video_key=CAMERAS[0])
    video.unlink()
    with pytest.raises(TrajectoryError, match=r"episode_000002\.mp4.*video file not found"):
        read_lerobot_episode(copy, 2)
    short = copy / VIDEO_PATH.format(episode_chunk=0, episode_index=1, video_key=CAMERAS[0])
    encode_video(short, np.zeros((5, 32, 32, 3), np.uint8), fps=4, container_format="mp4")
    with pytest.raises(TrajectoryError, match=r"5 video frames for 9 rows"):
        read_lerobot_episode(copy, 1)


def test_without_pyarrow_the_error_names_the_extra(lerobot, monkeypatch):
    root, _ = lerobot
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # import raises ImportError
    with pytest.raises(VJEPA2Error, match=r"pip install 'vjepa2\[robot\]'"):
        read_lerobot_episode(root, 0)


def test_train_ac_runs_on_a_lerobot_dataset(lerobot, tmp_path):
    root, _ = lerobot
    encoder = vjepa2.VJEPA2Config(
        hidden_size=48, num_hidden_layers=2, num_attention_heads=3, crop_size=32,
        frames_per_clip=2, pred_hidden_size=24, pred_num_hidden_layers=1,
        pred_num_attention_heads=2,
    )  # fmt: skip
    predictor = ACPredictorConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
    torch.manual_seed(0)
    wm = WorldModel(VJEPA2ACConfig(encoder=encoder, predictor=predictor))
    wm.reset_parameters()
    model = wm.save_pretrained(tmp_path / "wm")
    out = tmp_path / "run"
    args = ["train-ac", "--data", str(root), "--model", str(model), "--out", str(out),
            "--frames", "4", "--batch-size", "2", "--epochs", "2", "--warmup", "1",
            "--decay", "1", "--device", "cpu", "--clips-per-episode", "2",
            "--camera", "wrist", "--val-episodes", "1"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("val_loss" in r for r in records)
    assert max(r.get("step", 0) for r in records) == 4  # 2 epochs x (2 episodes x 2 clips / 2)
    cached = sorted(p.name for p in (out / "cache").rglob("*.safetensors"))
    assert cached == [f"episode_{i:06d}.safetensors" for i in range(3)]
    trained = vjepa2.load(out / "model")
    assert isinstance(trained, WorldModel)


def test_lerobot_options_are_refused_for_a_folder_dataset(tmp_path):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)
    write_episode(tmp_path / "data" / "train", "ep", frames, np.zeros((5, 7), np.float32))
    args = ["train-ac", "--data", str(tmp_path / "data"), "--model", str(tmp_path / "none"),
            "--out", str(tmp_path / "run"), "--val-episodes", "1", "--camera", "top"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "--camera, --val-episodes: only for a LeRobot dataset" in result.output
