from pathlib import Path

import pytest

from lightning_pose_arch.data.split import load_split, make_split, save_split
from lightning_pose_arch.registry import ConfigError

PATHS = [f"labeled-data/v/img{i:03d}.png" for i in range(116)]


def test_split_sizes_follow_training_fraction() -> None:
    split = make_split(PATHS, train_fraction=0.95, val_fraction=0.1, seed=0)
    assert [len(split[s]) for s in ("train", "val", "test")] == [99, 11, 6]
    assert sorted(split["train"] + split["val"] + split["test"]) == PATHS


def test_split_is_seeded_and_order_independent() -> None:
    a = make_split(PATHS, 0.8, 0.1, seed=1)
    assert a == make_split(list(reversed(PATHS)), 0.8, 0.1, seed=1)
    assert a != make_split(PATHS, 0.8, 0.1, seed=2)


def test_save_and_load(tmp_path: Path) -> None:
    split = make_split(PATHS, 0.9, 0.1, seed=0)
    save_split(split, tmp_path / "s" / "split.json")
    assert load_split(tmp_path / "s" / "split.json", PATHS) == split


def test_load_rejects_unknown_frames(tmp_path: Path) -> None:
    save_split({"train": ["nope.png"], "val": [], "test": []}, tmp_path / "split.json")
    with pytest.raises(ConfigError, match="nope.png"):
        load_split(tmp_path / "split.json", PATHS)


def test_empty_training_split_is_an_error() -> None:
    with pytest.raises(ConfigError, match="empty training split"):
        make_split(PATHS[:1], train_fraction=0.5, val_fraction=0.0, seed=0)
    with pytest.raises(ConfigError, match="train_fraction"):
        make_split(PATHS, train_fraction=0.0, val_fraction=0.0, seed=0)
