"""Synthetic single-animal DeepLabCut projects with known keypoints, for tests and demos.

Each frame shows a grey elliptical "animal" on a dark background with one
coloured disc per bodypart at its labeled position, so a model can learn
it in a few steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import pandas as pd
import yaml

from lightning_pose_arch.data.formats.dlc import write_table

DEFAULT_BODYPARTS = ("snout", "leftear", "rightear", "tailbase")
SCORER = "synth"
VIDEO = "synthvideo"
# Body-frame offsets (along, across the body axis) as fractions of the body length.
_LAYOUT = {"snout": (0.5, 0.0), "leftear": (0.3, -0.12), "rightear": (0.3, 0.12), "tailbase": (-0.5, 0.0)}


def _body_keypoints(rng: np.random.Generator, num_kpts: int, height: int, width: int) -> np.ndarray:
    """Random pose ``[K, 2]`` of an animal fully inside the frame."""
    length = rng.uniform(0.35, 0.5) * min(height, width)
    angle = rng.uniform(0, 2 * np.pi)
    margin = 0.6 * length
    center = rng.uniform([margin, margin], [width - margin, height - margin])
    layout = [_LAYOUT.get(name, ((i + 0.5) / num_kpts - 0.5, 0.2)) for i, name in enumerate(DEFAULT_BODYPARTS[:num_kpts])]
    layout += [((i + 0.5) / num_kpts - 0.5, 0.2) for i in range(len(layout), num_kpts)]
    along, across = np.array(layout).T * length
    direction = np.array([np.cos(angle), np.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    return center + along[:, None] * direction + across[:, None] * normal


def _draw(keypoints: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    image = rng.integers(10, 40, size=(height, width, 3), dtype=np.uint8)
    start, end = keypoints[0], keypoints[-1]
    center = tuple(int(v) for v in (start + end) / 2)
    axes = (int(np.linalg.norm(end - start) / 2), int(np.linalg.norm(end - start) / 5))
    angle = float(np.degrees(np.arctan2(*(end - start)[::-1])))
    cv2.ellipse(image, center, axes, angle, 0, 360, (120, 120, 120), -1)
    colors = [(255, 60, 60), (60, 255, 60), (60, 60, 255), (255, 255, 60), (255, 60, 255), (60, 255, 255)]
    radius = max(2, min(height, width) // 32)
    for k, (x, y) in enumerate(keypoints):
        cv2.circle(image, (int(round(x)), int(round(y))), radius, colors[k % len(colors)], -1)
    return image


def make_synthetic_project(
    root: str | Path,
    num_frames: int = 16,
    image_size: tuple[int, int] = (96, 128),
    bodyparts: tuple[str, ...] = DEFAULT_BODYPARTS,
    missing_fraction: float = 0.0,
    label_format: Literal["csv", "h5"] = "csv",
    seed: int = 0,
) -> Path:
    """Write a DeepLabCut project to ``root`` and return ``root``.

    Args:
        root: Folder to create.
        num_frames: Number of labeled PNG frames.
        image_size: Frame ``(height, width)``.
        bodyparts: Keypoint names.
        missing_fraction: Fraction of keypoints left unlabeled (NaN).
        label_format: Label file type.
        seed: Random seed; the same seed gives the same project.
    """
    root = Path(root)
    height, width = image_size
    rng = np.random.default_rng(seed)
    folder = root / "labeled-data" / VIDEO
    folder.mkdir(parents=True, exist_ok=True)
    rows, index = [], []
    for frame in range(num_frames):
        keypoints = _body_keypoints(rng, len(bodyparts), height, width)
        cv2.imwrite(str(folder / f"img{frame:04d}.png"), _draw(keypoints, height, width, rng)[..., ::-1])
        keypoints[rng.random(len(bodyparts)) < missing_fraction] = np.nan
        rows.append(keypoints.reshape(-1))
        index.append(f"labeled-data/{VIDEO}/img{frame:04d}.png")
    columns = pd.MultiIndex.from_product([[SCORER], list(bodyparts), ["x", "y"]], names=["scorer", "bodyparts", "coords"])
    write_table(pd.DataFrame(np.array(rows), index=index, columns=columns), folder / f"CollectedData_{SCORER}.{label_format}")
    config = {
        "Task": "synthetic", "scorer": SCORER, "multianimalproject": False, "bodyparts": list(bodyparts),
        "skeleton": [[bodyparts[0], bodyparts[-1]]], "TrainingFraction": [0.75], "pcutoff": 0.4,
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root
