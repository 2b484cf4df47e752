"""``lpa analyze`` across processes: each input analyzed once, files identical to a single-process run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lightning_pose_arch.inference.shards import Shard
from lightning_pose_arch.registry import ConfigError


def test_parse_and_bad_shards() -> None:
    assert Shard.parse("1/4") == Shard(1, 4)
    assert Shard.parse(" 0 / 1 ") == Shard(0, 1)
    for text in ["4/4", "-1/2", "1", "a/b", "1/0"]:
        with pytest.raises(ConfigError, match="INDEX/COUNT|0 <= index < count"):
            Shard.parse(text)


def test_shard_from_torchrun_and_slurm_environments() -> None:
    assert Shard.from_environment({}) is None
    assert Shard.from_environment({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == Shard(3, 4)
    slurm = {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_MAX": "9"}
    assert Shard.from_environment(slurm) == Shard(2, 5)
    stepped = {**slurm, "SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_STEP": "2"}  # tasks 5, 7, 9
    assert Shard.from_environment(stepped) == Shard(2, 3)


def test_select_balances_frames_and_covers_every_input_once() -> None:
    sizes = [100, 10, 60, 50, 40, 1]
    # largest first, each to the emptiest shard: 100→0, 60→1, 50→1 (110), 40→0 (140), 10→1 (120), 1→1 (121)
    assert Shard(0, 2).select(sizes) == [0, 4]
    assert Shard(1, 2).select(sizes) == [1, 2, 3, 5]
    for count in (1, 3, 7, 9):
        chosen = [i for index in range(count) for i in Shard(index, count).select(sizes)]
        assert sorted(chosen) == list(range(len(sizes)))


def _videos(video: Path, folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    copies = [folder / f"session{i}.mp4" for i in range(count)]
    for copy in copies:
        shutil.copy(video, copy)
    return copies


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {path.name: pd.read_hdf(path) for path in sorted(folder.glob("*.h5"))}


@pytest.mark.slow
def test_torchrun_sharded_analyze_equals_single_process(checkpoint: Path, synthetic_video: Path,
                                                        tmp_path: Path) -> None:
    videos = _videos(synthetic_video, tmp_path / "videos", count=3)
    lpa = str(Path(sys.executable).with_name("lpa"))
    common = ["analyze", *map(str, videos), "--checkpoint", str(checkpoint), "--device", "cpu",
              "--dlc-compatible", "--scorer", "DLC_test"]
    single = subprocess.run([lpa, *common, "--out", str(tmp_path / "single")], capture_output=True, text=True)
    assert single.returncode == 0, single.stderr
    sharded = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                              "--no-python", lpa, *common, "--out", str(tmp_path / "sharded")],
                             capture_output=True, text=True)
    assert sharded.returncode == 0, sharded.stderr[-3000:]
    single_tables, sharded_tables = _tables(tmp_path / "single"), _tables(tmp_path / "sharded")
    assert sorted(single_tables) == [f"session{i}DLC_test.h5" for i in range(3)]
    assert sorted(sharded_tables) == sorted(single_tables)
    for name, table in single_tables.items():
        pd.testing.assert_frame_equal(sharded_tables[name], table)
    # each video was analyzed by exactly one rank: each output was announced once
    announced = [line for line in sharded.stdout.splitlines() if line.startswith("wrote") and line.endswith(".h5")]
    assert len(announced) == 3, sharded.stdout


def test_explicit_shard_writes_only_its_share(checkpoint: Path, synthetic_video: Path, tmp_path: Path) -> None:
    videos = _videos(synthetic_video, tmp_path / "videos", count=2)
    lpa = str(Path(sys.executable).with_name("lpa"))
    written = []
    for index in (0, 1):
        run = subprocess.run([lpa, "analyze", *map(str, videos), "--checkpoint", str(checkpoint), "--device", "cpu",
                              "--out", str(tmp_path / "out"), "--shard", f"{index}/2"], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        written.append(sorted(p.name for p in (tmp_path / "out").glob("*.h5")))
    assert len(written[0]) == 1 and len(written[1]) == 2  # the first shard wrote one video, the second the other
    bad = subprocess.run([lpa, "analyze", str(videos[0]), "--checkpoint", str(checkpoint), "--shard", "2/2"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "0 <= index < count" in bad.stderr
