"""The one owner of the image ↔ network-input coordinate mapping (next to :mod:`.grid`, which owns input ↔ grid).

Pixel centers sit at integer coordinates everywhere: pixel ``(i, j)`` of an
image covers ``[j - 0.5, j + 0.5] × [i - 0.5, i + 0.5]``, so a ``W``-wide
image spans ``[-0.5, W - 0.5]``. Every geometric step is a 2×3 affine
matrix in that convention (the one :func:`cv2.warpAffine`,
:func:`cv2.resize` and ``F.interpolate(..., align_corners=False)`` sample
with):

- resize by ``s``: ``x → (x + 0.5)·s − 0.5`` (not ``x·s``);
- horizontal flip of a ``W``-wide image: ``x → W − 1 − x``;
- zoom / rotation / shift about the image center ``((W − 1)/2, (H − 1)/2)``;
- crop of a box: see :func:`lightning_pose_arch.data.topdown.crop_transform`.

Training composes all of them into one matrix, warps the image once with it
(:func:`warp_image`) and moves the keypoints with the same matrix
(:func:`transform_keypoints`); inference maps predictions back with the
inverse (:func:`invert_affine`, :func:`input_to_frame`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
import torch


def affine(scale_x: float, scale_y: float, shift_x: float, shift_y: float) -> torch.Tensor:
    """``[2, 3]`` float64 matrix ``x → scale_x·x + shift_x``, ``y → scale_y·y + shift_y``."""
    return torch.tensor([[scale_x, 0.0, shift_x], [0.0, scale_y, shift_y]], dtype=torch.float64)


def resize_matrix(source_size: Sequence[int], target_size: Sequence[int]) -> torch.Tensor:
    """``[2, 3]`` matrix of a resize from ``source_size`` (H, W) to ``target_size`` (H, W): ``x → (x + 0.5)·s − 0.5``."""
    scale_x = target_size[1] / source_size[1]
    scale_y = target_size[0] / source_size[0]
    return affine(scale_x, scale_y, 0.5 * scale_x - 0.5, 0.5 * scale_y - 0.5)


def hflip_matrix(width: int) -> torch.Tensor:
    """``[2, 3]`` matrix of a horizontal flip of a ``width``-pixel-wide image: ``x → width − 1 − x``."""
    return affine(-1.0, 1.0, width - 1.0, 0.0)


def center_affine_matrix(size: Sequence[int], scale: float, rotation_deg: float,
                         shift: Sequence[float]) -> torch.Tensor:
    """``[2, 3]`` zoom by ``scale`` and counter-clockwise rotation (as displayed, y down) about the center of an
    image of ``size`` (H, W), then a shift by ``shift`` (x, y) pixels."""
    center_x, center_y = (size[1] - 1) / 2, (size[0] - 1) / 2
    angle = math.radians(rotation_deg)
    cos, sin = scale * math.cos(angle), scale * math.sin(angle)
    linear = torch.tensor([[cos, sin], [-sin, cos]], dtype=torch.float64)
    center = torch.tensor([center_x, center_y], dtype=torch.float64)
    offset = center + torch.as_tensor(shift, dtype=torch.float64) - linear @ center
    return torch.cat([linear, offset[:, None]], dim=1)


def compose(*matrices: torch.Tensor) -> torch.Tensor:
    """One ``[..., 2, 3]`` matrix applying ``matrices`` in the order given (first one first)."""
    result = matrices[0]
    for matrix in matrices[1:]:
        result = torch.cat([matrix[..., :2] @ result[..., :2], (matrix[..., :2] @ result[..., 2:]) + matrix[..., 2:]],
                           dim=-1)
    return result


def invert_affine(matrix: torch.Tensor) -> torch.Tensor:
    """Inverse ``[..., 2, 3]`` of affine matrices ``[..., 2, 3]`` (closed form, batched)."""
    a, b, tx = matrix[..., 0, 0], matrix[..., 0, 1], matrix[..., 0, 2]
    c, d, ty = matrix[..., 1, 0], matrix[..., 1, 1], matrix[..., 1, 2]
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    row0 = torch.stack([ia, ib, -(ia * tx + ib * ty)], -1)
    row1 = torch.stack([ic, id_, -(ic * tx + id_ * ty)], -1)
    return torch.stack([row0, row1], -2)


def transform_keypoints(keypoints: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Apply ``matrix`` to the x, y of ``keypoints`` (the third channel is kept).

    ``keypoints`` is ``[*lead, *rest, K, 3]`` and ``matrix`` ``[*lead, 2, 3]``
    (one matrix per leading index, e.g. ``[B, N, K, 3]`` with ``[B, 2, 3]``, or
    ``[N, K, 3]`` with ``[2, 3]``).
    """
    lead = matrix.shape[:-2]
    matrix = matrix.to(keypoints.dtype).reshape(*lead, *([1] * (keypoints.dim() - 1 - len(lead))), 2, 3)
    xy = (matrix[..., :2] @ keypoints[..., :2, None])[..., 0] + matrix[..., 2]
    return torch.cat([xy, keypoints[..., 2:]], dim=-1)


def warp_image(image: np.ndarray, matrix: torch.Tensor, output_size: Sequence[int]) -> np.ndarray:
    """Warp ``image [H0, W0, C]`` with ``matrix [2, 3]`` (source → output pixels) to ``output_size`` (H, W).

    Bilinear, one interpolation, zeros outside the source; the pixel-center
    convention of this module (keypoints moved by :func:`transform_keypoints`
    with the same matrix stay on their content).
    """
    height, width = int(output_size[0]), int(output_size[1])
    return cv2.warpAffine(image, matrix.detach().cpu().double().numpy(), (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def input_to_frame(keypoints: torch.Tensor, frame_size: torch.Tensor, input_size: Sequence[int]) -> torch.Tensor:
    """Map keypoints ``[B, N, K, 3]`` from network-input pixels back to frame (file) pixels.

    Inverse of the resize ``frame → input``: ``x_frame = (x_input + 0.5)·W0/W − 0.5``.
    ``frame_size`` is ``[B, 2]`` or ``[2]`` (width, height) of the frames; ``input_size`` is (H, W).
    The third channel is kept.
    """
    input_wh = torch.tensor([input_size[1], input_size[0]], dtype=keypoints.dtype, device=keypoints.device)
    scale = frame_size.to(keypoints.dtype) / input_wh
    scale = scale.reshape(-1, 1, 1, 2) if scale.dim() == 2 else scale
    return torch.cat([(keypoints[..., :2] + 0.5) * scale - 0.5, keypoints[..., 2:]], dim=-1)


def frame_to_input(keypoints: torch.Tensor, frame_size: torch.Tensor, input_size: Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`input_to_frame`: ``[B, N, K, 3]`` from frame pixels to network-input pixels."""
    input_wh = torch.tensor([input_size[1], input_size[0]], dtype=keypoints.dtype, device=keypoints.device)
    scale = input_wh / frame_size.to(keypoints.dtype)
    scale = scale.reshape(-1, 1, 1, 2) if scale.dim() == 2 else scale
    return torch.cat([(keypoints[..., :2] + 0.5) * scale - 0.5, keypoints[..., 2:]], dim=-1)


def inside_image(xy: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """``[...]`` bool: points ``xy [..., 2]`` on an image of ``size`` (H, W), i.e. within ``[-0.5, W − 0.5]``."""
    return (xy[..., 0] >= -0.5) & (xy[..., 0] <= size[1] - 0.5) & (xy[..., 1] >= -0.5) & (xy[..., 1] <= size[0] - 0.5)
