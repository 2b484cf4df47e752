"""Top-down crops: one box per individual, warped to the model input size, and back.

Coordinates follow the package convention (pixel centers at integers). A box
``(x, y, w, h)`` spans ``[x, x + w] × [y, y + h]``; :func:`crop_transform`
first widens its shorter side to the input's aspect ratio (about the box
center), then maps it onto the crop so that the box edges land on the crop's
outer pixel edges (``-0.5`` and ``size - 0.5``). The 2×3 affine matrix maps
file pixels to crop pixels in the convention of
:mod:`lightning_pose_arch.models.coordinates` (which warps images and moves
keypoints with it, composed with any augmentation); :func:`uncrop_keypoints`
applies its exact inverse (batched torch) to bring predictions back to file pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from lightning_pose_arch.data.images import read_image
from lightning_pose_arch.data.transforms import KeypointTransform
from lightning_pose_arch.data.types import TopDownSample
from lightning_pose_arch.models.coordinates import invert_affine, transform_keypoints


@dataclass(frozen=True)
class TopDownConfig:
    """Crop mode of :class:`~lightning_pose_arch.data.datamodule.PoseDataModule`: one sample per individual.

    Each labeled individual is cropped by its box (from its keypoints, enlarged by
    ``padding``), warped to the model input size keeping the aspect ratio; metrics
    and predictions are mapped back to the image files' pixels.

    Attributes:
        padding: Factor applied to the tight keypoint box's width and height (>= 1 keeps every keypoint inside).
    """

    padding: float = 1.25

    def __post_init__(self) -> None:
        if self.padding < 1.0:
            raise ValueError(f"top-down padding must be >= 1 (keypoints would fall outside the crop), got {self.padding}")


def bbox_from_keypoints(keypoints: torch.Tensor, padding: float = 1.25, min_size: float = 1.0) -> torch.Tensor:
    """Boxes around each individual's labeled keypoints, enlarged about their center.

    Args:
        keypoints: ``[..., K, 3]`` (x, y, visibility); visibility 0 or a NaN
            coordinate means unlabeled.
        padding: Factor applied to the tight box's width and height (≥ 1 keeps every keypoint inside).
        min_size: Lower bound of the tight box's sides, in pixels (one labeled keypoint still gives a box).

    Returns:
        ``[..., 4]`` (x, y, w, h); all zeros for individuals without a labeled keypoint.
    """
    if padding <= 0 or min_size <= 0:
        raise ValueError(f"bbox_from_keypoints padding and min_size must be > 0, got {padding} and {min_size}")
    xy = keypoints[..., :2]
    labeled = (keypoints[..., 2] > 0) & torch.isfinite(xy).all(dim=-1)  # [..., K]
    inf = torch.tensor(float("inf"), dtype=xy.dtype, device=xy.device)
    low = torch.where(labeled[..., None], xy, inf).amin(dim=-2)  # [..., 2]
    high = torch.where(labeled[..., None], xy, -inf).amax(dim=-2)
    center = (low + high) / 2
    size = (high - low).clamp_min(min_size) * padding
    boxes = torch.cat([center - size / 2, size], dim=-1)
    return torch.where(labeled.any(dim=-1, keepdim=True), boxes, torch.zeros_like(boxes))


def crop_transform(bbox: torch.Tensor, input_size: Sequence[int]) -> torch.Tensor:
    """Affine matrices ``[..., 2, 3]`` mapping boxes ``[..., 4]`` (x, y, w, h) onto an ``input_size`` (H, W) crop.

    The box is widened (about its center) to the crop's aspect ratio, never
    cropped, so the scale is the same along x and y.
    """
    height, width = float(input_size[0]), float(input_size[1])
    x, y, w, h = bbox.unbind(dim=-1)
    if not bool(((w > 0) & (h > 0)).all()):
        raise ValueError("crop_transform needs boxes with positive width and height (no labeled keypoints?)")
    scale = torch.minimum(width / w, height / h)  # the side that must shrink more sets the scale
    shift_x = (width - 1) / 2 - scale * (x + w / 2)
    shift_y = (height - 1) / 2 - scale * (y + h / 2)
    zero = torch.zeros_like(scale)
    return torch.stack([torch.stack([scale, zero, shift_x], -1), torch.stack([zero, scale, shift_y], -1)], -2)


def uncrop_keypoints(keypoints: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Map keypoints ``[..., K, 3]`` from crop pixels back to file pixels (inverse of a crop ``matrix``)."""
    return transform_keypoints(keypoints, invert_affine(matrix.to(torch.float64)))


def warp_crops(images: torch.Tensor, matrix: torch.Tensor, input_size: Sequence[int]) -> torch.Tensor:
    """Batched, on-device crops: ``images [B, C, H0, W0]``, ``matrix [B, N, 2, 3]`` → ``[B, N, C, H, W]``.

    Bilinear, zeros outside the image, the same pixel-center convention as
    :func:`~lightning_pose_arch.models.coordinates.warp_image` (so crops match the ones the model was trained on).
    """
    height, width = int(input_size[0]), int(input_size[1])
    batch, num = matrix.shape[:2]
    inverse = invert_affine(matrix.double()).to(images.dtype)  # crop pixels → file pixels
    ys, xs = torch.meshgrid(torch.arange(height, device=images.device, dtype=images.dtype),
                            torch.arange(width, device=images.device, dtype=images.dtype), indexing="ij")
    crop_xy1 = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1)  # [H, W, 3]
    file_xy = torch.einsum("bnij,hwj->bnhwi", inverse, crop_xy1)  # [B, N, H, W, 2]
    file_size = torch.tensor([images.shape[-1], images.shape[-2]], device=images.device, dtype=images.dtype)
    grid = (2 * file_xy + 1) / file_size - 1  # grid_sample's align_corners=False normalization
    # The N crops of a frame sit side by side in one sampling grid, so frames are never copied per crop.
    grid = grid.permute(0, 2, 1, 3, 4).reshape(batch, height, num * width, 2)
    crops = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)  # [B,C,H,N·W]
    return crops.unflatten(-1, (num, width)).permute(0, 3, 1, 2, 4)


class TopDownDataset(Dataset[TopDownSample]):
    """One sample per (image, individual with a box): the individual's crop and keypoints.

    Args:
        root: Folder the image paths are relative to.
        image_paths: F relative image paths.
        keypoints: ``[F, N, K, 3]`` (x, y, visibility) in file pixels.
        input_size: Crop (H, W), the model's input size.
        transform: Built for ``input_size``; warps each frame with the crop matrix (composed with its
            augmentation, if any) and moves the keypoints with it.
        padding: Box padding factor (see :func:`bbox_from_keypoints`).
        bboxes: ``[F, N, 4]`` boxes (x, y, w, h) in file pixels (e.g. from a
            detector); default: from the keypoints. Boxes with no area are skipped.
        read: Decodes an image file (default :func:`read_image`; a :class:`~lightning_pose_arch.data.images.DecodedImages` cache).
    """

    def __init__(
        self,
        root: Path,
        image_paths: list[str],
        keypoints: np.ndarray,
        input_size: Sequence[int],
        transform: KeypointTransform,
        padding: float = 1.25,
        bboxes: np.ndarray | None = None,
        read: Callable[[Path], np.ndarray] = read_image,
    ) -> None:
        if len(image_paths) != len(keypoints) or (bboxes is not None and bboxes.shape[:2] != keypoints.shape[:2]):
            raise ValueError(f"{len(image_paths)} image paths, keypoints {keypoints.shape} and boxes "
                             f"{None if bboxes is None else bboxes.shape} must agree on frames and individuals")
        self.root = Path(root)
        self.read = read
        self.image_paths = image_paths
        keypoints = np.asarray(keypoints, dtype=np.float32)
        labeled = (keypoints[..., 2:] > 0) & np.isfinite(keypoints[..., :2]).all(axis=-1, keepdims=True)
        self.keypoints = np.where(labeled, keypoints, 0.0).astype(np.float32)  # unlabeled: (0, 0, 0), never NaN
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.transform = transform
        boxes = bbox_from_keypoints(torch.from_numpy(self.keypoints).double(), padding) if bboxes is None else \
            torch.as_tensor(bboxes, dtype=torch.float64)
        self.bboxes = boxes
        valid = (boxes[..., 2] > 0) & (boxes[..., 3] > 0)  # [F, N]
        self.index = [(int(f), int(n)) for f, n in valid.nonzero().tolist()]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> TopDownSample:
        frame, individual = self.index[index]
        image = self.read(self.root / self.image_paths[frame])
        height, width = image.shape[:2]
        box = self.bboxes[frame, individual]
        matrix = crop_transform(box, self.input_size)  # float64
        keypoints = self.keypoints[frame, individual: individual + 1]
        image_tensor, keypoints_tensor, _ = self.transform.apply(image, keypoints, np.zeros((1, 0, 3), np.float32),
                                                                 source_matrix=matrix)
        return {
            "image": image_tensor,
            "keypoints": keypoints_tensor,
            "original_size": torch.tensor([width, height], dtype=torch.float32),
            "image_path": self.image_paths[frame],
            "crop_matrix": matrix.float(),
            "bboxes": box.float()[None],
            "individual": individual,
        }
