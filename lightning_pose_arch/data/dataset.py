"""Map-style dataset of annotated images: files are decoded per item, never all held in memory."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from lightning_pose_arch.data.transforms import KeypointTransform
from lightning_pose_arch.data.types import PoseSample


def read_image(path: Path) -> np.ndarray:
    """Read an image file as ``[H, W, 3]`` uint8 RGB; raise naming the file if it cannot be decoded."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        reason = "does not exist" if not path.exists() else "cannot be decoded as an image"
        raise OSError(f"image file {path} {reason}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class PoseDataset(Dataset[PoseSample]):
    """Images and their keypoints.

    Args:
        root: Folder the image paths are relative to.
        image_paths: F relative image paths.
        keypoints: ``[F, N, K, 3]`` (x, y, visibility) in file pixels.
        transform: Applied to each (image, keypoints) pair.
    """

    def __init__(self, root: Path, image_paths: list[str], keypoints: np.ndarray, transform: KeypointTransform) -> None:
        if len(image_paths) != len(keypoints):
            raise ValueError(f"{len(image_paths)} image paths but {len(keypoints)} keypoint rows")
        self.root = root
        self.image_paths = image_paths
        self.keypoints = keypoints
        self.transform = transform

    def __len__(self) -> int:
        return len(self.image_paths)

    def __getitem__(self, index: int) -> PoseSample:
        image = read_image(self.root / self.image_paths[index])
        height, width = image.shape[:2]
        image_tensor, keypoints = self.transform(image, self.keypoints[index])
        return {
            "image": image_tensor,
            "keypoints": keypoints,
            "original_size": torch.tensor([width, height], dtype=torch.float32),
            "image_path": self.image_paths[index],
        }
