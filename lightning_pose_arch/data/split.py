"""Reproducible train/val/test splits, saved as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lightning_pose_arch.data.formats.base import atomic_output
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
                          f"rounds to 0 frames; {_validation_hint(num_trainval, len(paths))}")
    chosen = [paths[i] for i in order]
    return {
        "train": sorted(chosen[num_val:num_trainval]),
        "val": sorted(chosen[:num_val]),
        "test": sorted(chosen[num_trainval:]),
    }


def _validation_hint(num_trainval: int, num_frames: int) -> str:
    """A valid way out of an empty validation split (one frame cannot be both trained and validated on)."""
    if num_trainval >= 2:
        return (f"use val_fraction >= {1 / num_trainval:.3g} for at least one validation frame, or val_fraction=0 "
                "to train without validation")
    more = "label more frames" if num_frames < 2 else "raise train_fraction so that at least 2 frames train"
    return (f"{num_trainval} training frame cannot also give a validation frame: use val_fraction=0 to train "
            f"without validation, or {more}")


def save_split(split: dict[str, list[str]], path: str | Path) -> None:
    """Write ``split`` as JSON, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:  # honours the umask (mkstemp alone makes owner-only files)
        tmp.write_text(json.dumps({name: split[name] for name in SPLITS}, indent=1))


def load_split(path: str | Path, known_paths: list[str]) -> dict[str, list[str]]:
    """Read a split file; every listed frame must be a labeled frame of the project."""
    path = Path(path)
    try:
        split = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"split file {path} is not valid JSON: {err}") from err
    if not isinstance(split, dict) or set(split) != set(SPLITS):
        raise ConfigError(f"split file {path} must hold exactly the keys {list(SPLITS)}")
    for name in SPLITS:
        if not isinstance(split[name], list) or not all(isinstance(frame, str) for frame in split[name]):
            raise ConfigError(f"split file {path}: {name!r} must be a list of image paths, got {split[name]!r:.80}")
    unknown = sorted(set().union(*split.values()) - set(known_paths))
    if unknown:
        raise ConfigError(f"split file {path} lists frames that are not labeled in the project: {unknown[:5]}")
    check_disjoint(split, str(path))
    return split


def check_disjoint(split: dict[str, list[str]], source: str) -> None:
    """Every frame is in at most one of train/val/test, once: a test frame that is also trained on leaks."""
    for name in SPLITS:
        repeated = sorted({frame for frame in split[name] if split[name].count(frame) > 1})
        if repeated:
            raise ConfigError(f"split file {source} lists {repeated[:5]} more than once in {name!r}")
    for i, first in enumerate(SPLITS):
        for second in SPLITS[i + 1:]:
            shared = sorted(set(split[first]) & set(split[second]))
            if shared:
                raise ConfigError(f"split file {source}: {len(shared)} frame(s) are in both {first!r} and {second!r}, "
                                  f"e.g. {shared[:3]}; each frame must be in one split only (a frame that is "
                                  "trained on and tested on inflates the test score)")
