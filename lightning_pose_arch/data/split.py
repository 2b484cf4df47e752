"""Reproducible train/val/test splits, saved as JSON."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from lightning_pose_arch.registry import ConfigError

SPLITS = ("train", "val", "test")


def make_split(image_paths: list[str], train_fraction: float, val_fraction: float, seed: int) -> dict[str, list[str]]:
    """Split frames like DeepLabCut: ``round(train_fraction · F)`` frames for training (and
    validation: ``round(val_fraction · that)`` of them), the rest for testing. ``val_fraction=0``
    means no validation; a positive one that rounds to no frame is an error.

    The permutation comes from ``numpy.random.default_rng(seed)`` over the sorted paths, so the
    split depends only on the paths, the fractions and the seed.
    """
    if not 0.0 < train_fraction <= 1.0:
        raise ConfigError(f"train_fraction must be in (0, 1], got {train_fraction}")
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    paths = sorted(image_paths)
    order = np.random.default_rng(seed).permutation(len(paths))
    num_trainval = int(round(train_fraction * len(paths)))
    num_val = int(round(val_fraction * num_trainval))
    if num_trainval - num_val < 1:
        raise ConfigError(f"empty training split: {len(paths)} frames, train_fraction={train_fraction}, "
                          f"val_fraction={val_fraction}; label more frames or raise train_fraction")
    if val_fraction > 0 and num_val == 0:
        raise ConfigError(f"empty validation split: val_fraction={val_fraction} of {num_trainval} training frames "
                          f"rounds to 0 frames; use val_fraction >= {1 / num_trainval:.3g} for at least one "
                          "validation frame, or val_fraction=0 to train without validation")
    chosen = [paths[i] for i in order]
    return {
        "train": sorted(chosen[num_val:num_trainval]),
        "val": sorted(chosen[:num_val]),
        "test": sorted(chosen[num_trainval:]),
    }


def save_split(split: dict[str, list[str]], path: str | Path) -> None:
    """Write ``split`` as JSON, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as tmp:
        json.dump({name: split[name] for name in SPLITS}, tmp, indent=1)
    os.replace(tmp_name, path)


def load_split(path: str | Path, known_paths: list[str]) -> dict[str, list[str]]:
    """Read a split file; every listed frame must be a labeled frame of the project."""
    path = Path(path)
    try:
        split = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"split file {path} is not valid JSON: {err}") from err
    if not isinstance(split, dict) or set(split) != set(SPLITS):
        raise ConfigError(f"split file {path} must hold exactly the keys {list(SPLITS)}")
    unknown = sorted(set().union(*split.values()) - set(known_paths))
    if unknown:
        raise ConfigError(f"split file {path} lists frames that are not labeled in the project: {unknown[:5]}")
    return split
