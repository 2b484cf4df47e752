"""Unlabeled video clips for consistency losses: random positions, one augmentation per clip.

Each clip is ``clip_length`` consecutive frames from a random position in one
of the videos (every position equally likely), resized to the network input
and warped by one random affine transform for the whole clip. The clip
carries that transform as a matrix (video pixels → input pixels), so the
keypoints predicted on it can be mapped back exactly
(:func:`input_to_video`) before a loss compares frames. Pixel centers sit at
integer coordinates on both sides, as everywhere in the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.utilities import CombinedLoader
from torch.utils.data import DataLoader, IterableDataset

from lightning_pose_arch.data.transforms import AugmentationConfig, KeypointTransform
from lightning_pose_arch.data.video_reader import VideoReader
from lightning_pose_arch.models.coordinates import invert_affine, resize_matrix, transform_keypoints, warp_image

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")


@dataclass
class UnlabeledConfig:
    """Unlabeled video for semi-supervised training (``PoseDataModule(unlabeled=...)``).

    Attributes:
        videos: Video files, or folders whose videos (``.mp4 .avi .mov .mkv``) are all used.
        clip_length: Consecutive frames per clip (>= 2 for the temporal loss).
        batch_size: Clips per batch (each training step sees ``batch_size · clip_length`` frames).
        rotation: Max rotation in degrees of a clip's augmentation.
        scale: Zoom range ``1 ± scale``.
        translate: Max shift as a fraction of the input size.
        affine_p: Probability that a clip is augmented (else only resized).
    """

    videos: list[str] = field(default_factory=list)
    clip_length: int = 8
    batch_size: int = 1
    rotation: float = 15.0
    scale: float = 0.1
    translate: float = 0.05
    affine_p: float = 0.8

    def __post_init__(self) -> None:
        if not self.videos:
            raise ValueError("unlabeled.videos is empty: list video files or folders of videos")
        if self.clip_length < 2 or self.batch_size < 1:
            raise ValueError(f"unlabeled clip_length must be >= 2 and batch_size >= 1, got "
                             f"clip_length={self.clip_length}, batch_size={self.batch_size}")
        _ = self.augmentation  # AugmentationConfig checks the ranges

    @property
    def augmentation(self) -> AugmentationConfig:
        """The clips' geometric augmentation (no flip: a clip's left/right labels are unknown; no photometric
        change)."""
        return AugmentationConfig(scale=self.scale, rotation=self.rotation, translate=self.translate,
                                  affine_p=self.affine_p, hflip_p=0.0, brightness_contrast_p=0.0)


def find_videos(entries: list[str]) -> list[Path]:
    """Video files named by ``entries`` (files, or folders searched for video suffixes); raise when none."""
    videos: list[Path] = []
    for entry in map(Path, entries):
        if entry.is_dir():
            found = sorted(p for p in entry.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"unlabeled video folder {entry} has no {'/'.join(VIDEO_SUFFIXES)} files")
            videos += found
        elif entry.is_file():
            videos.append(entry)
        else:
            raise FileNotFoundError(f"unlabeled video {entry} does not exist (give video files or folders)")
    return videos


def input_to_video(points: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Map ``points [B, ..., 2+]`` (x, y first) from input pixels back to video pixels with the inverse of
    each clip's ``matrix [B, 2, 3]``; extra channels (scores) are kept. Inverted in float64."""
    return transform_keypoints(points.double(), invert_affine(matrix.double())).to(points.dtype)


class VideoClipDataset(IterableDataset):
    """An endless stream of augmented clips from random positions in ``videos``.

    Yields ``{"frames": [T, 3, H, W] uint8, "matrix": [2, 3] float64 (video → input pixels),
    "video": int, "start": int}``. Positions are uniform over every clip start of every video.
    Each iteration draws its seed from torch's generator, so it follows ``seed_everything`` (and
    each DataLoader worker's own seed) and differs from epoch to epoch.

    Args:
        videos: Video files.
        image_size: Network input (height, width).
        cfg: Clip length and augmentation.
    """

    def __init__(self, videos: list[Path], image_size: tuple[int, int], cfg: UnlabeledConfig) -> None:
        self.readers = [VideoReader(path) for path in videos]
        short = [f"{r.path} ({r.num_frames} frames)" for r in self.readers if r.num_frames < cfg.clip_length]
        if short:
            raise ValueError(f"unlabeled videos shorter than clip_length={cfg.clip_length}: {short}")
        self.image_size = image_size
        self.cfg = cfg
        self.transform = KeypointTransform(image_size, cfg.augmentation)  # the labeled frames' geometry
        starts = np.array([r.num_frames - cfg.clip_length + 1 for r in self.readers], dtype=np.float64)
        self.video_probabilities = starts / starts.sum()

    def clip(self, rng: np.random.Generator) -> dict[str, torch.Tensor | int]:
        """One random clip (see the class docstring)."""
        video = int(rng.choice(len(self.readers), p=self.video_probabilities))
        reader = self.readers[video]
        start = int(rng.integers(0, reader.num_frames - self.cfg.clip_length + 1))
        matrix, _ = self.transform.sample_matrix(resize_matrix((reader.height, reader.width), self.image_size), rng)
        frames = np.stack([warp_image(frame, matrix, self.image_size)
                           for frame in reader.read_clip(start, self.cfg.clip_length)])
        return {"frames": torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous(), "matrix": matrix,
                "video": video, "start": start}

    def __iter__(self):
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))
        while True:
            yield self.clip(rng)


def with_unlabeled_clips(labeled: DataLoader, cfg: UnlabeledConfig, image_size: tuple[int, int],
                         num_workers: int) -> CombinedLoader:
    """``{"labeled": <labeled batch>, "unlabeled": <clip batch>}`` per step; the labeled loader sets the epoch."""
    clips = DataLoader(VideoClipDataset(find_videos(cfg.videos), image_size, cfg), batch_size=cfg.batch_size,
                       num_workers=num_workers, persistent_workers=num_workers > 0)
    return CombinedLoader({"labeled": labeled, "unlabeled": clips}, mode="min_size")
