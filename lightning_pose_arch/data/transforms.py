"""Train and eval transforms that move keypoints ``[N, K, 3]`` exactly with the image.

All geometry (resize or a native-resolution window, random zoom/rotation/shift,
horizontal flip with left/right swap, and a top-down crop when given) is composed into one 2×3
matrix of :mod:`lightning_pose_arch.models.coordinates` (pixel centers at
integers); the image is warped once with it and the keypoints are moved with
the same matrix, so labels stay on their content. Albumentations does only the
photometric part (brightness/contrast). Both return a ``[3, H, W]`` uint8
tensor: normalization happens on the model's device
(:class:`~lightning_pose_arch.models.preprocess.InputTransform`). Keypoints
moved outside the image get visibility 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import albumentations as A
import numpy as np
import torch

from lightning_pose_arch.data.native import NativeResolutionConfig
from lightning_pose_arch.models.coordinates import (
    affine,
    center_affine_matrix,
    compose,
    hflip_matrix,
    inside_image,
    resize_matrix,
    transform_keypoints,
    warp_image,
)

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
    """Warp an image and move its keypoints with one affine matrix, then (training) change brightness/contrast.

    ``__call__(image [H0, W0, 3] uint8 RGB, keypoints [N, K, 3])`` →
    ``(image [3, H, W] uint8, keypoints [N, K, 3] float32)`` in input pixels;
    :meth:`apply` also moves unique keypoints ``[1, U, 3]`` with the same draw
    and can start from a crop matrix instead of the resize.

    Args:
        input_size: Output (H, W), the network input size.
        augmentation: Random zoom/rotation/shift, flip and brightness/contrast; ``None`` only resizes (evaluation).
        flip_pairs: Keypoint index pairs swapped by a horizontal flip.
        unique_flip_pairs: The same for unique keypoints.
        native_resolution: Instead of resizing frames to ``input_size``, cut ``input_size`` windows at the
            frame's scale (training) or keep the whole frame, padded to ``input_size`` (evaluation); see
            :mod:`~lightning_pose_arch.data.native`.
    """

    input_size: tuple[int, int]
    augmentation: AugmentationConfig | None = None
    flip_pairs: list[tuple[int, int]] = field(default_factory=list)
    unique_flip_pairs: list[tuple[int, int]] = field(default_factory=list)
    native_resolution: NativeResolutionConfig | None = None

    def __post_init__(self) -> None:
        self.input_size = (int(self.input_size[0]), int(self.input_size[1]))
        self.rng = np.random.default_rng()
        aug = self.augmentation
        self.photometric = None if aug is None else A.Compose(
            [A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=aug.brightness_contrast_p)])

    def __call__(self, image: np.ndarray, keypoints: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        image_tensor, moved, _ = self.apply(image, keypoints, np.zeros((1, 0, 3), np.float32))
        return image_tensor, moved

    def apply(
        self, image: np.ndarray, keypoints: np.ndarray, unique_keypoints: np.ndarray,
        source_matrix: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(image, keypoints [N, K, 3], unique_keypoints [1, U, 3])`` in file pixels → the same in input pixels.

        ``source_matrix [2, 3]`` (file → input pixels, e.g. a top-down crop) replaces the resize to ``input_size``.
        """
        start = self.start_matrix(image.shape[:2], keypoints) if source_matrix is None else source_matrix.double()
        matrix, flipped = self.sample_matrix(start)
        warped = warp_image(image, matrix, self.input_size)
        if self.photometric is not None:
            warped = self.photometric(image=warped)["image"]
        moved = self._move(keypoints, matrix, self.flip_pairs if flipped else [])
        unique = self._move(unique_keypoints, matrix, self.unique_flip_pairs if flipped else [])
        return torch.from_numpy(np.ascontiguousarray(warped.transpose(2, 0, 1))), moved, unique

    def start_matrix(self, frame_size: tuple[int, int], keypoints: np.ndarray) -> torch.Tensor:
        """File → input pixels before augmentation: the resize, or in native-resolution mode a window at the
        frame's scale (training) or the frame itself (evaluation: the rest of ``input_size`` is padding)."""
        if self.native_resolution is None:
            return resize_matrix(frame_size, self.input_size)
        if self.augmentation is None:
            return affine(1.0, 1.0, 0.0, 0.0)
        return self.native_resolution.sample_window(keypoints, frame_size, self.input_size, self.rng)

    def sample_matrix(
        self, start: torch.Tensor, rng: np.random.Generator | None = None
    ) -> tuple[torch.Tensor, bool]:
        """``start`` (file → input pixels) followed by a random zoom/rotation/shift and flip; ``(matrix, flipped)``.
        Draws from ``rng`` (default: the transform's own stream)."""
        aug, rng = self.augmentation, rng or self.rng
        if aug is None:
            return start, False
        height, width = self.input_size
        steps = [start]
        if rng.random() < aug.affine_p:
            shift = rng.uniform(-aug.translate, aug.translate, size=2) * (width, height)
            steps.append(center_affine_matrix(self.input_size, rng.uniform(1 - aug.scale, 1 + aug.scale),
                                              rng.uniform(-aug.rotation, aug.rotation), shift.tolist()))
        flipped = bool(rng.random() < aug.hflip_p)
        if flipped:
            steps.append(hflip_matrix(width))
        return compose(*steps), flipped

    def reseed(self, seed: int) -> None:
        """Restart the random streams (albumentations and numpy generators ignore global seeds such as ``seed_everything``)."""
        self.rng = np.random.default_rng(seed)
        if self.photometric is not None:
            self.photometric.set_random_seed(seed)

    def _move(self, keypoints: np.ndarray, matrix: torch.Tensor, swaps: list[tuple[int, int]]) -> torch.Tensor:
        """``[N, K, 3]`` file pixels → input pixels: left/right swapped, points outside the image unlabeled."""
        moved = transform_keypoints(torch.from_numpy(np.asarray(keypoints, dtype=np.float64)), matrix)
        order = list(range(moved.shape[1]))
        for i, j in swaps:
            order[i], order[j] = j, i
        moved = moved[:, order]
        visible = (moved[..., 2] > 0) & inside_image(moved[..., :2], self.input_size)
        moved = torch.where(visible[..., None], moved, torch.zeros_like(moved))
        return moved.float()


def build_eval_transform(
    image_size: tuple[int, int], native_resolution: NativeResolutionConfig | None = None
) -> KeypointTransform:
    """Deterministic: resize to ``image_size`` (height, width), or (native resolution) pad to it."""
    return KeypointTransform(image_size, native_resolution=native_resolution)


def build_train_transform(
    image_size: tuple[int, int],
    augmentation: AugmentationConfig,
    flip_pairs: list[tuple[int, int]],
    unique_flip_pairs: list[tuple[int, int]] | None = None,
    native_resolution: NativeResolutionConfig | None = None,
) -> KeypointTransform:
    """Random: resize (or a native-resolution window), zoom/rotation/shift, flip with left/right swap (one warp),
    brightness/contrast."""
    return KeypointTransform(image_size, augmentation, flip_pairs=flip_pairs, unique_flip_pairs=unique_flip_pairs or [],
                             native_resolution=native_resolution)
