"""Synthetic multi-animal videos with ground-truth identities, for tracking tests and benchmarks.

Animals (drawn as in :mod:`~lightning_pose_arch.data.synthetic_multi`, one fixed
shape and colour each, colours alike so they do not reveal identity) move on smooth
random paths (a slowly wandering heading and speed) inside an arena larger than the
frame, so they cross, touch, leave the frame and come back. A grey "shelter" drawn over
them hides what passes under it. Later animals are drawn over earlier ones.

Ground truth ``keypoints [T, N, K, 3]``: x, y where each keypoint's marker is drawn
(integer pixels) and visibility 2 (visible), 1 (inside the frame but covered) or 0
(outside the frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from lightning_pose_arch.data.formats.base import VISIBLE
from lightning_pose_arch.data.synthetic_multi import BODYPARTS, _Animal, _background, _draw_animal, _random_animal, _visibility

EXAMPLE_NAME = "tracking_example"
EXAMPLE_SETTINGS = dict(num_frames=150, num_animals=3, image_size=(160, 192), seed=1)
_ARENA_MARGIN = 0.15  # of the frame's smaller side, on each side: room to leave the frame
_TURN_RATE = 0.06  # radians/frame, standard deviation of the heading's wander
_CENTRE_PULL = 0.08  # radians/frame the heading turns toward the frame's centre (animals roam, then come back)
_CROSS_ENTER, _CROSS_EXIT = 0.5, 1.0  # centre distance in body lengths that starts / ends a crossing


@dataclass(frozen=True)
class TrackingVideo:
    """A generated video's frames ``[T, H, W, 3]`` (RGB uint8), ground truth ``keypoints [T, N, K, 3]``,
    and how many times two animals crossed (centres closer than half a body length)."""

    frames: np.ndarray
    keypoints: np.ndarray
    crossings: int
    bodyparts: tuple[str, ...] = BODYPARTS

    @property
    def individuals(self) -> list[str]:
        return [f"animal{n + 1}" for n in range(self.keypoints.shape[1])]


def simulate_paths(rng: np.random.Generator, num_frames: int, num_animals: int, height: int, width: int,
                   speed: float) -> tuple[np.ndarray, np.ndarray]:
    """Centres ``[T, N, 2]`` and headings ``[T, N]`` of smooth random walks that bounce off the arena's walls."""
    margin = _ARENA_MARGIN * min(height, width)
    low, high = np.array([-margin, -margin]), np.array([width - 1 + margin, height - 1 + margin])
    position = rng.uniform([0, 0], [width - 1, height - 1], size=(num_animals, 2))
    heading, turn = rng.uniform(0, 2 * np.pi, num_animals), np.zeros(num_animals)
    pace = speed * rng.uniform(0.7, 1.3, num_animals)
    centres, headings = np.empty((num_frames, num_animals, 2)), np.empty((num_frames, num_animals))
    for frame in range(num_frames):
        centres[frame], headings[frame] = position, heading
        turn = 0.9 * turn + rng.normal(0, _TURN_RATE, num_animals)
        to_centre = np.arctan2(height / 2 - position[:, 1], width / 2 - position[:, 0])
        heading = heading + turn + _CENTRE_PULL * np.sin(to_centre - heading)
        step = (pace * (1 + 0.3 * np.sin(frame / 40 + np.arange(num_animals))))[:, None] * np.stack(
            [np.cos(heading), np.sin(heading)], axis=1)
        position = position + step
        outside = (position < low) | (position > high)  # bounce: reverse the velocity's outside component
        velocity = np.where(outside, -step, step)
        position = np.clip(position, low, high)
        heading = np.where(outside.any(axis=1), np.arctan2(velocity[:, 1], velocity[:, 0]), heading)
    return centres, headings


def posed(animal: _Animal, centre: np.ndarray, heading: float) -> _Animal:
    """``animal`` (midpoint at the origin) turned so its tail→snout axis points along ``heading``, moved to ``centre``."""
    axis = animal.spine[0] - animal.spine[round(1.0 / 0.025)]
    angle = heading - np.arctan2(axis[1], axis[0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return _Animal(animal.spine @ rotation.T + centre, animal.ears @ rotation.T + centre, animal.length)


def count_crossings(centres: np.ndarray, length: float) -> int:
    """Times two animals' centres came within ``0.5 · length`` (re-armed once they are ``length`` apart)."""
    distance = np.linalg.norm(centres[:, :, None] - centres[:, None], axis=-1)  # [T, N, N]
    pairs = np.triu_indices(centres.shape[1], k=1)
    crossings = 0
    for d in distance[:, pairs[0], pairs[1]].T:
        armed = True
        for value in d:
            if armed and value < _CROSS_ENTER * length:
                crossings, armed = crossings + 1, False
            elif value > _CROSS_EXIT * length:
                armed = True
    return crossings


def make_tracking_video(num_frames: int = 150, num_animals: int = 3, image_size: tuple[int, int] = (160, 192),
                        seed: int = 0, speed: float = 2.0, shelter: bool = True) -> TrackingVideo:
    """Draw a video of ``num_animals`` animals moving ``speed`` px/frame on average (module docstring).

    Args:
        num_frames: T, at least 1.
        num_animals: N, at least 1.
        image_size: ``(height, width)``, each at least 64.
        seed: The same seed gives the same video.
        speed: Mean speed in px/frame.
        shelter: Draw a grey box over a part of the arena that hides the animals under it.
    """
    if num_frames < 1 or num_animals < 1 or min(image_size) < 64 or speed <= 0:
        raise ValueError(f"make_tracking_video needs num_frames >= 1, num_animals >= 1, image_size >= 64 and "
                         f"speed > 0, got {num_frames}, {num_animals}, {image_size}, {speed}")
    height, width = image_size
    rng = np.random.default_rng(seed)
    shapes = [_random_animal(rng, min(height, width)) for _ in range(num_animals)]
    colours = [rng.integers(90, 170) + rng.integers(-20, 21, size=3) for _ in range(num_animals)]
    background = _background(rng, height, width)
    shelter_box = _shelter(rng, height, width) if shelter else None
    centres, headings = simulate_paths(rng, num_frames, num_animals, height, width, speed)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    keypoints = np.empty((num_frames, num_animals, len(BODYPARTS), 3))
    for frame in range(num_frames):
        animals = [posed(shape, c, h) for shape, c, h in zip(shapes, centres[frame], headings[frame])]
        frames[frame], keypoints[frame] = _render(background, animals, colours, shelter_box)
    length = float(np.mean([shape.length for shape in shapes]))
    return TrackingVideo(frames, keypoints, count_crossings(centres, length))


def _shelter(rng: np.random.Generator, height: int, width: int) -> tuple[int, int, int, int]:
    """A box ``x0, y0, x1, y1`` of about a fifth of the frame's sides, inside the frame."""
    w, h = int(0.2 * width), int(0.25 * height)
    x0, y0 = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
    return x0, y0, x0 + w, y0 + h


def _render(background: np.ndarray, animals: list[_Animal], colours: list[np.ndarray],
            shelter: tuple[int, int, int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    """One frame ``[H, W, 3]`` and its keypoints ``[N, K, 3]`` (x, y, visibility)."""
    image = background.copy()
    for animal, colour in zip(animals, colours):
        if _any_inside(animal, image.shape):
            _draw_animal(image, animal, colour.astype(np.uint8))
    if shelter is not None:
        cv2.rectangle(image, shelter[:2], (shelter[2] - 1, shelter[3] - 1), (70, 70, 70), -1)
    points = np.round(np.stack([animal.keypoints() for animal in animals]))  # [N, K, 2]
    visibility = np.stack([_visibility(image, p, first_color=0) for p in points])
    return image, np.concatenate([points, visibility[..., None]], axis=-1)


def _any_inside(animal: _Animal, shape: tuple[int, ...]) -> bool:
    """The animal has a pixel in the frame (:func:`_draw_animal` needs one)."""
    points = np.concatenate([animal.spine, animal.ears])
    return bool(((points[:, 0] >= 0) & (points[:, 0] < shape[1]) & (points[:, 1] >= 0) & (points[:, 1] < shape[0])).any())


def noisy_detections(
    keypoints: np.ndarray, rng: np.random.Generator, noise: float = 2.0, drop_keypoints: float = 0.1,
    drop_detections: float = 0.1, min_keypoints: int = 2,
) -> np.ndarray:
    """What a detector might return for ground truth ``keypoints [T, N, K, 3]``: ``[T, N, K, 3]`` (x, y, score).

    Visible keypoints get Gaussian noise of ``noise`` px and a score in [0.5, 1]; covered
    ones, ones outside the frame and a random ``drop_keypoints`` share are missing (NaN);
    animals with fewer than ``min_keypoints`` keypoints left, and a random ``drop_detections``
    share of the rest, are not detected. Each frame's detections come in random order.
    """
    detections = keypoints.astype(np.float64).copy()
    detections[..., :2] += rng.normal(0, noise, detections[..., :2].shape)
    detections[..., 2] = rng.uniform(0.5, 1.0, detections.shape[:-1])
    missing = (keypoints[..., 2] < VISIBLE) | (rng.random(keypoints.shape[:-1]) < drop_keypoints)
    missing |= ((~missing).sum(axis=-1) < min_keypoints)[..., None]
    missing |= (rng.random(keypoints.shape[:2]) < drop_detections)[..., None]
    detections[missing] = [np.nan, np.nan, 0.0]
    order = np.argsort(rng.random(keypoints.shape[:2]), axis=1)
    return np.take_along_axis(detections, order[..., None, None], axis=1)


def write_video(path: str | Path, frames: np.ndarray, fps: float = 30.0) -> Path:
    """Write RGB ``frames [T, H, W, 3]`` as an mp4 (``mp4v``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    return path


def write_tracking_video(out_dir: str | Path, name: str = "tracking", **settings: object) -> tuple[Path, Path]:
    """``make_tracking_video(**settings)`` written as ``<name>.mp4`` and ``<name>_groundtruth.csv``; return both.

    The ground truth is a DeepLabCut-layout table (``scorer / individuals / bodyparts / coords``)
    with coords ``x, y, visibility`` (:func:`read_ground_truth` reads it back).
    """
    video = make_tracking_video(**settings)
    out_dir = Path(out_dir)
    path = write_video(out_dir / f"{name}.mp4", video.frames)
    columns = pd.MultiIndex.from_product([["groundtruth"], video.individuals, list(video.bodyparts),
                                          ["x", "y", "visibility"]],
                                         names=["scorer", "individuals", "bodyparts", "coords"])
    table = pd.DataFrame(video.keypoints.reshape(len(video.keypoints), -1), columns=columns)
    truth = out_dir / f"{name}_groundtruth.csv"
    table.to_csv(truth)
    return path, truth


def read_ground_truth(path: str | Path) -> np.ndarray:
    """``[T, N, K, 3]`` (x, y, visibility) from a :func:`write_tracking_video` ground-truth table."""
    table = pd.read_csv(path, header=[0, 1, 2, 3], index_col=0)
    individuals = table.columns.get_level_values("individuals").unique()
    bodyparts = table.columns.get_level_values("bodyparts").unique()
    return table.to_numpy(np.float64).reshape(len(table), len(individuals), len(bodyparts), 3)


def example_tracking_video() -> tuple[Path, Path]:
    """The bundled video and its ground truth: ``write_tracking_video(folder, "tracking_example", **EXAMPLE_SETTINGS)``."""
    folder = Path(str(resources.files("lightning_pose_arch") / "assets" / "tracking"))
    return folder / f"{EXAMPLE_NAME}.mp4", folder / f"{EXAMPLE_NAME}_groundtruth.csv"


__all__ = ["TrackingVideo", "count_crossings", "example_tracking_video", "make_tracking_video",
           "noisy_detections", "read_ground_truth", "simulate_paths", "write_tracking_video", "write_video"]
