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

from lightning_pose_arch.data.formats.base import VISIBLE, LabeledData
from lightning_pose_arch.data.formats.dlc import SINGLE_INDIVIDUAL, write_project

DEFAULT_BODYPARTS = ("snout", "leftear", "rightear", "tailbase")
SCORER = "synth"
VIDEO = "synthvideo"
# One marker colour per bodypart (RGB); saturated, so unlike the grey bodies and dark backgrounds.
MARKER_COLORS = (
    (255, 60, 60), (60, 255, 60), (60, 60, 255), (255, 255, 60),
    (255, 60, 255), (60, 255, 255), (255, 160, 40), (160, 60, 255),
)
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
    draw_markers(image, keypoints, radius=max(2, min(height, width) // 32))
    return image


def draw_markers(image: np.ndarray, points: np.ndarray, radius: int, first_color: int = 0) -> None:
    """Draw a filled disc centred on each of ``points [K, 2]`` (rounded to the nearest pixel) into ``image``.

    Point k gets ``MARKER_COLORS[(first_color + k) % 8]``; discs are not
    anti-aliased, so the pixel under a point has exactly its colour.
    """
    for k, (x, y) in enumerate(points):
        color = MARKER_COLORS[(first_color + k) % len(MARKER_COLORS)]
        cv2.circle(image, (int(round(x)), int(round(y))), radius, color, -1)


def write_rgb(path: Path, image: np.ndarray) -> None:
    """Write an RGB ``[H, W, 3]`` uint8 image (format from the suffix)."""
    if not cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1])):
        raise OSError(f"could not write image {path}")


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
    paths, keypoints = [f"labeled-data/{VIDEO}/img{frame:04d}.png" for frame in range(num_frames)], []
    for path in paths:
        points = _body_keypoints(rng, len(bodyparts), height, width)
        write_rgb(root / path, _draw(points, height, width, rng))
        visibility = np.where(rng.random(len(bodyparts)) < missing_fraction, 0, VISIBLE)
        keypoints.append(np.concatenate([points * (visibility[:, None] > 0), visibility[:, None]], axis=1))
    config = {
        "Task": "synthetic", "scorer": SCORER, "multianimalproject": False, "bodyparts": list(bodyparts),
        "skeleton": [[bodyparts[0], bodyparts[-1]]], "TrainingFraction": [0.75], "pcutoff": 0.4,
    }
    data = LabeledData(
        root=root, config=config, bodyparts=list(bodyparts), individuals=[SINGLE_INDIVIDUAL], image_paths=paths,
        keypoints=np.stack(keypoints)[:, None].astype(np.float32), unique_bodyparts=[],
        unique_keypoints=np.zeros((num_frames, 1, 0, 3), np.float32), skeleton=config["skeleton"],
        flip_pairs=None, sigmas=None, bboxes=None,
    )
    return write_project(data, root, label_formats=(label_format,))
