"""Albumentations pipelines that move keypoints ``[N, K, 3]`` with the image.

The train pipeline resizes, applies a random affine (scale, rotation,
translation), a horizontal flip that swaps left/right keypoints, and
brightness/contrast; the eval pipeline only resizes. Both normalize with
``normalization`` (mean/std) and return a ``[3, H, W]`` tensor. Keypoints
that a transform moves outside the image get visibility 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import albumentations as A
import numpy as np
import torch

IMAGENET_NORMALIZATION: dict[str, list[float]] = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
_SIDE_PATTERNS = [("left", "right"), ("Left", "Right"), ("LEFT", "RIGHT"), ("l_", "r_"), ("L_", "R_"), ("_l", "_r"), ("_L", "_R")]


def infer_flip_pairs(bodyparts: list[str]) -> list[tuple[int, int]]:
    """Pairs of keypoint indices whose names differ only by left/right (``leftear``/``rightear``, ``L_paw``/``R_paw``)."""
    index = {name: i for i, name in enumerate(bodyparts)}
    pairs = []
    for i, name in enumerate(bodyparts):
        for left, right in _SIDE_PATTERNS:
            if left in name:
                j = index.get(re.sub(re.escape(left), right, name, count=1))
                if j is not None and (i, j) not in pairs:
                    pairs.append((i, j))
                    break
    return pairs


@dataclass(frozen=True)
class AugmentationConfig:
    """Train-time augmentation settings.

    Attributes:
        scale: Random zoom range ``1 ± scale``.
        rotation: Max rotation in degrees.
        translate: Max shift as a fraction of the image size.
        affine_p: Probability of the affine transform.
        hflip_p: Probability of a horizontal flip (left/right keypoints are swapped).
        brightness_contrast_p: Probability of a brightness/contrast change (±0.2).
    """

    scale: float = 0.2
    rotation: float = 25.0
    translate: float = 0.05
    affine_p: float = 0.9
    hflip_p: float = 0.5
    brightness_contrast_p: float = 0.5

    def __post_init__(self) -> None:
        for name in ("affine_p", "hflip_p", "brightness_contrast_p"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"augmentation {name} must be a probability in [0, 1], got {value}")
        if not 0 <= self.scale < 1 or self.rotation < 0 or not 0 <= self.translate < 1:
            raise ValueError(f"augmentation scale and translate must be in [0, 1), rotation >= 0, got {self}")


@dataclass
class KeypointTransform:
    """Apply an albumentations pipeline to an image and its keypoints.

    ``__call__(image [H0, W0, 3] uint8 RGB, keypoints [N, K, 3])`` →
    ``(image [3, H, W] float normalized, keypoints [N, K, 3] float32)``;
    :meth:`apply` also moves unique keypoints ``[1, U, 3]`` with the same draw.
    """

    pipeline: A.Compose
    flip_pairs: list[tuple[int, int]] = field(default_factory=list)
    normalization: dict[str, list[float]] = field(default_factory=lambda: dict(IMAGENET_NORMALIZATION))
    unique_flip_pairs: list[tuple[int, int]] = field(default_factory=list)

    def __call__(self, image: np.ndarray, keypoints: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        image_tensor, moved, _ = self.apply(image, keypoints, np.zeros((1, 0, 3), np.float32))
        return image_tensor, moved

    def apply(
        self, image: np.ndarray, keypoints: np.ndarray, unique_keypoints: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(image, keypoints [N, K, 3], unique_keypoints [1, U, 3])`` → transformed ``(image, keypoints, unique)``."""
        points = np.concatenate([keypoints[..., :2].reshape(-1, 2), unique_keypoints[..., :2].reshape(-1, 2)])
        out = self.pipeline(image=image, keypoints=points)
        xy = np.asarray(out["keypoints"], dtype=np.float32).reshape(-1, 2)
        flipped = any(name == "HorizontalFlip" for name, _ in out.get("applied_transforms", []))
        height, width = out["image"].shape[:2]
        split = keypoints.shape[0] * keypoints.shape[1]
        moved = _finish(xy[:split].reshape(*keypoints.shape[:2], 2), keypoints[..., 2],
                        self.flip_pairs if flipped else [], width, height)
        unique = _finish(xy[split:].reshape(*unique_keypoints.shape[:2], 2), unique_keypoints[..., 2],
                         self.unique_flip_pairs if flipped else [], width, height)
        return self._normalize(out["image"]), moved, unique

    def reseed(self, seed: int) -> None:
        """Restart the pipeline's random stream (albumentations ignores global seeds such as ``seed_everything``)."""
        self.pipeline.set_random_seed(seed)

    def _normalize(self, image: np.ndarray) -> torch.Tensor:
        mean = np.asarray(self.normalization["mean"], dtype=np.float32)
        std = np.asarray(self.normalization["std"], dtype=np.float32)
        return torch.from_numpy(((image.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1).copy())


def _finish(xy: np.ndarray, visibility: np.ndarray, swaps: list[tuple[int, int]], width: int, height: int) -> torch.Tensor:
    """Moved ``xy [N, K, 2]`` + ``visibility [N, K]`` → ``[N, K, 3]``: left/right swapped, outside points unlabeled."""
    order = np.arange(xy.shape[1])
    for i, j in swaps:
        order[i], order[j] = j, i
    xy, visibility = xy[:, order], visibility[:, order]
    # albumentations resizes with x·scale, i.e. the image spans [0, width] x [0, height].
    inside = (xy[..., 0] >= 0) & (xy[..., 0] <= width) & (xy[..., 1] >= 0) & (xy[..., 1] <= height)
    visibility = np.where(inside, visibility, 0.0)
    xy = np.where(visibility[..., None] > 0, xy, 0.0)
    return torch.from_numpy(np.concatenate([xy, visibility[..., None]], axis=-1).astype(np.float32))


def _compose(transforms: list[A.BasicTransform], record: bool) -> A.Compose:
    return A.Compose(
        transforms,
        keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
        save_applied_params=record,
    )


def build_eval_transform(image_size: tuple[int, int], normalization: dict[str, list[float]]) -> KeypointTransform:
    """Deterministic pipeline: resize to ``image_size`` (height, width) and normalize."""
    height, width = image_size
    return KeypointTransform(_compose([A.Resize(height, width)], record=False), normalization=normalization)


def build_train_transform(
    image_size: tuple[int, int],
    augmentation: AugmentationConfig,
    flip_pairs: list[tuple[int, int]],
    normalization: dict[str, list[float]],
    unique_flip_pairs: list[tuple[int, int]] | None = None,
) -> KeypointTransform:
    """Random pipeline: resize, affine, flip with left/right swap, brightness/contrast, normalize."""
    height, width = image_size
    aug = augmentation
    transforms: list[A.BasicTransform] = [
        A.Resize(height, width),
        A.Affine(
            scale=(1 - aug.scale, 1 + aug.scale),
            rotate=(-aug.rotation, aug.rotation),
            translate_percent=(-aug.translate, aug.translate),
            border_mode=0,
            p=aug.affine_p,
        ),
        A.HorizontalFlip(p=aug.hflip_p),
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=aug.brightness_contrast_p),
    ]
    return KeypointTransform(_compose(transforms, record=True), flip_pairs=flip_pairs, normalization=normalization,
                             unique_flip_pairs=unique_flip_pairs or [])


def input_to_original(keypoints: torch.Tensor, original_size: torch.Tensor, input_size: tuple[int, int]) -> torch.Tensor:
    """Map keypoints ``[B, N, K, 3]`` from network-input pixels back to file pixels.

    Inverse of the eval pipeline's resize (albumentations scales coordinates
    by ``new size / old size``). ``original_size`` is ``[B, 2]`` (width,
    height); ``input_size`` is (height, width). The third channel is kept.
    """
    height, width = input_size
    scale = original_size.to(keypoints.dtype) / torch.tensor([width, height], dtype=keypoints.dtype, device=keypoints.device)
    return torch.cat([keypoints[..., :2] * scale[:, None, None, :], keypoints[..., 2:]], dim=-1)
