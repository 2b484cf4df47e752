"""Map-style dataset of annotated images: files are decoded per item, never all held in memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from lightning_pose_arch.data.images import read_image
from lightning_pose_arch.data.transforms import KeypointTransform
from lightning_pose_arch.data.types import PoseSample


class PoseDataset(Dataset[PoseSample]):
    """Images and their keypoints.

    Samples carry ``unique_keypoints [1, U, 3]`` too when U > 0.

    Args:
        root: Folder the image paths are relative to.
        image_paths: F relative image paths.
        keypoints: ``[F, N, K, 3]`` (x, y, visibility) in file pixels.
        transform: Applied to each (image, keypoints) pair.
        unique_keypoints: ``[F, 1, U, 3]`` keypoints labeled at most once per frame (DeepLabCut
            ``uniquebodyparts``), moved with the image; ``None`` for none.
        read: Decodes an image file (default :func:`read_image`; a :class:`~lightning_pose_arch.data.images.DecodedImages` cache).
    """

    def __init__(self, root: Path, image_paths: list[str], keypoints: np.ndarray, transform: KeypointTransform,
                 unique_keypoints: np.ndarray | None = None,
                 read: Callable[[Path], np.ndarray] = read_image) -> None:
        if len(image_paths) != len(keypoints) or (unique_keypoints is not None and len(unique_keypoints) != len(keypoints)):
            raise ValueError(f"{len(image_paths)} image paths, {len(keypoints)} keypoint rows and "
                             f"{None if unique_keypoints is None else len(unique_keypoints)} unique keypoint rows")
        self.root = root
        self.image_paths = image_paths
        self.keypoints = keypoints
        self.transform = transform
        self.read = read
        has_unique = unique_keypoints is not None and unique_keypoints.shape[2] > 0
        self.unique_keypoints = unique_keypoints if has_unique else None

    def __len__(self) -> int:
        return len(self.image_paths)

    def __getitem__(self, index: int) -> PoseSample:
        image = self.read(self.root / self.image_paths[index])
        height, width = image.shape[:2]
        unique = self.unique_keypoints[index] if self.unique_keypoints is not None else np.zeros((1, 0, 3), np.float32)
        image_tensor, keypoints, unique_moved = self.transform.apply(image, self.keypoints[index], unique)
        sample: PoseSample = {
            "image": image_tensor,
            "keypoints": keypoints,
            "original_size": torch.tensor([width, height], dtype=torch.float32),
            "image_path": self.image_paths[index],
        }
        if self.unique_keypoints is not None:
            sample["unique_keypoints"] = unique_moved
        return sample
