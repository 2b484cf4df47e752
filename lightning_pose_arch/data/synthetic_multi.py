"""Synthetic multi-animal projects with known keypoints, for tests and demos.

Each frame shows 1 to ``max_animals`` articulated "animals" (a tapered body
along a bent spine, two ears and a thin tail) on a smooth dark background,
plus one light square "marker" object, the unique bodypart. Every keypoint
carries a disc of its bodypart's colour (the same for every animal, so
colours do not reveal identity), centred on the keypoint's integer pixel:
pixel centres are at integer coordinates, as everywhere in this package.
Animals are drawn one after the other, so a later animal may hide an
earlier one's markers: such keypoints are labeled with visibility 1, the
others 2; keypoints outside the frame are unlabeled. Some frames place two
animals touching or overlapping.

The same frames are written as a DeepLabCut multi-animal project and as a
COCO keypoints json (the animals only; COCO has no unique bodyparts).
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from lightning_pose_arch.data.formats.base import OCCLUDED, VISIBLE, LabeledData
from lightning_pose_arch.data.formats.coco import write_coco
from lightning_pose_arch.data.formats.dlc import MULTI_BODYPARTS, write_project
from lightning_pose_arch.data.synthetic import MARKER_COLORS, SCORER, VIDEO, draw_markers, write_rgb

BODYPARTS = ("snout", "leftear", "rightear", "neck", "midback", "tailbase", "tailtip")
UNIQUE_BODYPARTS = ("marker",)
SKELETON = (("snout", "leftear"), ("snout", "rightear"), ("snout", "neck"), ("neck", "midback"),
            ("midback", "tailbase"), ("tailbase", "tailtip"))
COCO_FILE = "annotations.json"
ASSET_SETTINGS = dict(num_frames=60, max_animals=4, image_size=(160, 192), seed=0, touching_fraction=0.3)

# Spine sampled every 1/40 of the body length L from the snout (0) over the
# tail base (1) to the tail tip (1.7); keypoints sit on samples.
_STEP = 0.025
_TAIL_END = 1.7
_SPINE_KEYPOINTS = {"snout": 0.0, "neck": 0.25, "midback": 0.6, "tailbase": 1.0, "tailtip": _TAIL_END}
_EAR_ARC, _EAR_ACROSS = 0.15, 0.13  # ears: beside the spine at 0.15 L, 0.13 L to each side
_HALF_WIDTH = 0.16  # of L, at the widest point
_MARKER_HALF_SIDE = 5
_PLACEMENT_TRIES = 60


class _Animal(NamedTuple):
    spine: np.ndarray  # [S, 2] samples from snout to tail tip
    ears: np.ndarray  # [2, 2] left, right
    length: float

    @property
    def half_width(self) -> float:
        return _HALF_WIDTH * self.length

    def keypoints(self) -> np.ndarray:
        """``[K, 2]`` in ``BODYPARTS`` order."""
        spine = {name: self.spine[round(arc / _STEP)] for name, arc in _SPINE_KEYPOINTS.items()}
        named = {**spine, "leftear": self.ears[0], "rightear": self.ears[1]}
        return np.stack([named[name] for name in BODYPARTS])

    def moved(self, offset: np.ndarray) -> _Animal:
        return _Animal(self.spine + offset, self.ears + offset, self.length)


def _random_animal(rng: np.random.Generator, size: int) -> _Animal:
    """An animal with its body midpoint at the origin: random length, heading, spine bend and tail bend."""
    length = rng.uniform(0.22, 0.3) * size
    arc = np.arange(0.0, _TAIL_END + _STEP / 2, _STEP)
    curvature = np.where(arc < 1.0, rng.uniform(-1.6, 1.6), rng.uniform(-3.0, 3.0))  # radians per L
    heading = rng.uniform(0, 2 * np.pi) + np.concatenate([[0.0], np.cumsum(curvature[:-1] * _STEP)])
    forward = np.stack([np.cos(heading), np.sin(heading)], axis=1)  # tail → snout direction
    spine = np.concatenate([[[0.0, 0.0]], np.cumsum(-forward[:-1] * _STEP * length, axis=0)])
    at = round(_EAR_ARC / _STEP)
    left = np.array([forward[at, 1], -forward[at, 0]])  # the animal's left in y-down image coordinates
    ears = spine[at] + np.stack([left, -left]) * _EAR_ACROSS * length
    middle = spine[round(0.5 / _STEP)]
    return _Animal(spine - middle, ears - middle, length)


def _gap(a: _Animal, b: _Animal) -> float:
    """Distance between two bodies' outlines (negative when they overlap), tails included."""
    distances = np.linalg.norm(a.spine[:, None] - b.spine[None], axis=-1)
    return float(distances.min() - a.half_width - b.half_width)


def _fits(animal: _Animal, height: int, width: int) -> bool:
    points = np.concatenate([animal.spine, animal.ears])
    margin = animal.half_width
    return bool((points >= margin).all() and (points[:, 0] <= width - 1 - margin).all()
                and (points[:, 1] <= height - 1 - margin).all())


def _place_animals(rng: np.random.Generator, count: int, touching: bool, height: int, width: int) -> list[_Animal]:
    """Up to ``count`` animals inside the frame, at least 4 px apart (best of a few tries).

    With ``touching``, the second animal is placed against the first instead,
    its outline touching or overlapping (best of a few tries).
    """
    animals: list[_Animal] = []
    for _ in range(count):
        shape = _random_animal(rng, min(height, width))
        against = touching and len(animals) == 1
        best, best_score = None, -np.inf
        for _ in range(_PLACEMENT_TRIES):
            if against:
                direction = rng.uniform(0, 2 * np.pi)
                offset = animals[0].spine[round(0.5 / _STEP)] + rng.uniform(0.3, 0.6) * shape.length * np.array(
                    [np.cos(direction), np.sin(direction)])
            else:
                offset = rng.uniform([0, 0], [width - 1, height - 1])
            candidate = shape.moved(offset)
            if not _fits(candidate, height, width):
                continue
            gaps = [_gap(candidate, other) for other in animals]
            score = -abs(gaps[0]) if against else min(gaps, default=np.inf)
            if score > best_score:
                best, best_score = candidate, score
            if (against and gaps[0] <= 0) or (not against and score >= 4):
                break
        if best is not None:
            animals.append(best)
    return animals


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth dark gradient (compresses well, unlike noise), ``[H, W, 3]`` uint8."""
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * np.arange(width)[None] / width + np.sin(angle) * np.arange(height)[:, None] / height
    tint = rng.uniform(15, 40, size=3)
    return np.clip(tint + 20 * ramp[..., None], 0, 255).astype(np.uint8)


def _draw_animal(image: np.ndarray, animal: _Animal, color: np.ndarray) -> np.ndarray:
    """Draw one animal and its keypoint markers into ``image``; return its amodal box ``[4]`` x, y, w, h."""
    mask = np.zeros(image.shape[:2], np.uint8)
    arc = np.arange(len(animal.spine)) * _STEP
    radius = np.interp(arc, [0, 0.15, 0.45, 0.8, 1.0], [0.3, 0.6, 1.0, 0.85, 0.45]) * animal.half_width
    for (x, y), r in zip(animal.spine[arc <= 1.0], radius[arc <= 1.0]):
        cv2.circle(mask, (int(round(x)), int(round(y))), int(round(r)), 1, -1)
    tail = np.round(animal.spine[arc >= 1.0]).astype(np.int32)
    cv2.polylines(mask, [tail], False, 1, max(1, int(round(0.05 * animal.length))))
    for x, y in animal.ears:
        cv2.circle(mask, (int(round(x)), int(round(y))), max(2, int(round(0.07 * animal.length))), 2, -1)
    image[mask == 1] = color
    image[mask == 2] = (0.7 * color).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    draw_markers(image, np.round(animal.keypoints()), radius=_marker_radius(image))
    return np.array([xs.min() - 0.5, ys.min() - 0.5, xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], np.float32)


def _marker_radius(image: np.ndarray) -> int:
    return max(2, min(image.shape[:2]) // 64)


def _visibility(image: np.ndarray, points: np.ndarray, first_color: int) -> np.ndarray:
    """``[K]``: 2 where the pixel under point k shows its marker colour, 1 where something covers it, 0 outside."""
    height, width = image.shape[:2]
    xs, ys = points[:, 0].astype(int), points[:, 1].astype(int)
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    colors = np.array([MARKER_COLORS[(first_color + k) % len(MARKER_COLORS)] for k in range(len(points))])
    shown = (image[ys.clip(0, height - 1), xs.clip(0, width - 1)] == colors).all(axis=-1)
    return np.where(inside, np.where(shown, VISIBLE, OCCLUDED), 0)


def _render_frame(
    rng: np.random.Generator, count: int, touching: bool, max_animals: int, height: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One frame: image ``[H, W, 3]``, keypoints ``[N, K, 3]``, unique keypoints ``[1, U, 3]``, boxes ``[N, 4]``."""
    image = _background(rng, height, width)
    margin = _MARKER_HALF_SIDE + 1
    marker = np.round(rng.uniform([margin, margin], [width - 1 - margin, height - 1 - margin]))[None]
    center = marker[0].astype(int)
    cv2.rectangle(image, tuple(center - _MARKER_HALF_SIDE), tuple(center + _MARKER_HALF_SIDE), (225, 225, 225), -1)
    draw_markers(image, marker, radius=_marker_radius(image), first_color=len(BODYPARTS))
    keypoints = np.zeros((max_animals, len(BODYPARTS), 3), np.float32)
    boxes = np.zeros((max_animals, 4), np.float32)
    animals = _place_animals(rng, count, touching, height, width)
    for n, animal in enumerate(animals):
        boxes[n] = _draw_animal(image, animal, rng.integers(90, 170) + rng.integers(-20, 21, size=3))
    for n, animal in enumerate(animals):
        points = np.round(animal.keypoints())
        visibility = _visibility(image, points, first_color=0)
        keypoints[n] = np.concatenate([points * (visibility[:, None] > 0), visibility[:, None]], axis=1)
    unique = np.concatenate([marker, _visibility(image, marker, len(BODYPARTS))[:, None]], axis=1)
    return image, keypoints, unique[None].astype(np.float32), boxes


def make_multi_animal_project(
    out_dir: str | Path,
    num_frames: int = 24,
    max_animals: int = 3,
    image_size: tuple[int, int] = (160, 192),
    seed: int = 0,
    touching_fraction: float = 0.3,
) -> Path:
    """Write a DeepLabCut multi-animal project and ``annotations.json`` (COCO) to ``out_dir``; return ``out_dir``.

    The project has ``config.yaml`` (individuals ``animal1..animal<max_animals>``,
    ``multianimalbodyparts`` :data:`BODYPARTS`, ``uniquebodyparts`` ``["marker"]``,
    skeleton, ``TrainingFraction: [0.8]``), PNG frames and
    ``labeled-data/synthvideo/CollectedData_synth.{h5,csv}``. The COCO json lists
    the same frames (``file_name`` relative to ``out_dir``), the animals'
    keypoints with visibility 1 for covered markers, and their boxes.

    Args:
        out_dir: Folder to create.
        num_frames: Number of frames.
        max_animals: Most animals in a frame; each frame has 1 to ``max_animals``.
        image_size: Frame ``(height, width)``, each at least 64.
        seed: Random seed; the same seed gives the same project.
        touching_fraction: Share of the frames with two or more animals in which
            the second animal touches or overlaps the first.
    """
    rules = {"num_frames": (num_frames, num_frames >= 1, ">= 1"),
             "max_animals": (max_animals, max_animals >= 1, ">= 1"),
             "image_size": (image_size, min(image_size) >= 64, "(height, width), each >= 64"),
             "touching_fraction": (touching_fraction, 0 <= touching_fraction <= 1, "in [0, 1]")}
    for name, (value, valid, rule) in rules.items():
        if not valid:
            raise ValueError(f"make_multi_animal_project {name} must be {rule}, got {value}")
    out_dir = Path(out_dir)
    (out_dir / "labeled-data" / VIDEO).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = [f"labeled-data/{VIDEO}/img{frame:04d}.png" for frame in range(num_frames)]
    frames = []
    for path in paths:
        count = int(rng.integers(1, max_animals + 1))
        image, *labels = _render_frame(rng, count, count > 1 and rng.random() < touching_fraction, max_animals,
                                       *image_size)
        write_rgb(out_dir / path, image)
        frames.append(labels)
    keypoints, unique, boxes = (np.stack(values) for values in zip(*frames))
    data = LabeledData(
        root=out_dir, config=_config(max_animals), bodyparts=list(BODYPARTS),
        individuals=[f"animal{n + 1}" for n in range(max_animals)], image_paths=paths, keypoints=keypoints,
        unique_bodyparts=list(UNIQUE_BODYPARTS), unique_keypoints=unique, skeleton=[list(e) for e in SKELETON],
        flip_pairs=None, sigmas=None, bboxes=boxes,
    )
    write_project(data, out_dir)
    animals_only = dataclasses.replace(data, unique_bodyparts=[], unique_keypoints=unique[:, :, :0])
    write_coco(animals_only, out_dir / COCO_FILE)
    return out_dir


def _config(max_animals: int) -> dict:
    return {
        "Task": "synthetic-multi", "scorer": SCORER, "multianimalproject": True, "identity": False,
        "individuals": [f"animal{n + 1}" for n in range(max_animals)],
        "multianimalbodyparts": list(BODYPARTS), "uniquebodyparts": list(UNIQUE_BODYPARTS),
        "bodyparts": MULTI_BODYPARTS, "skeleton": [list(edge) for edge in SKELETON],
        "TrainingFraction": [0.8], "pcutoff": 0.4,
    }


def example_multi_animal_project() -> Path:
    """Path of the bundled synthetic multi-animal project: ``make_multi_animal_project(path, **ASSET_SETTINGS)``.

    It is a DeepLabCut project folder that also holds ``annotations.json`` (COCO).
    """
    return Path(str(resources.files("lightning_pose_arch") / "assets" / "synthetic_multi"))
