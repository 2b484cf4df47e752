"""The one owner of the grid ↔ image coordinate mapping.

Pixel centers sit at integer image coordinates. A grid cell (heatmap pixel)
covers ``stride`` image pixels, so cell ``j`` spans image pixels
``j*stride … (j+1)*stride - 1`` and its center is at
``(j + 0.5) * stride - 0.5``. Target generators encode with these functions
and predictors decode with them, so encode → decode is exact.
"""

from __future__ import annotations

import torch


def grid_to_image(grid_coord: torch.Tensor, stride: float) -> torch.Tensor:
    """Image coordinate of grid coordinate ``grid_coord`` (cell centers at integers)."""
    return (grid_coord + 0.5) * stride - 0.5


def image_to_grid(image_coord: torch.Tensor, stride: float) -> torch.Tensor:
    """Inverse of :func:`grid_to_image`."""
    return (image_coord + 0.5) / stride - 0.5


def cell_centers(
    height: int, width: int, stride: float, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Image coordinates of the cell centers of an ``height × width`` grid.

    Returns:
        ``(ys [height], xs [width])`` in input-image pixels.
    """
    ys = grid_to_image(torch.arange(height, device=device, dtype=dtype), stride)
    xs = grid_to_image(torch.arange(width, device=device, dtype=dtype), stride)
    return ys, xs


# SimCC (coordinate classification) bins. A 1-D axis of ``size`` input pixels is split into
# ``size * split_ratio`` bins; bin ``i`` has its center at image coordinate ``i / split_ratio``
# (MMPose's SimCC convention, so pretrained RTMPose heads decode the same way). With pixel
# centers at integers, pixel ``p`` is exactly the center of bin ``p * split_ratio`` for an
# integer ratio; the bins cover ``[-1/(2r), size - 1/(2r)]``. (A heatmap cell with stride
# ``1/r`` would instead sit at ``(i + 0.5)/r - 0.5``: the two agree for ``r = 1``.)


def simcc_bin_to_image(bin_index: torch.Tensor, split_ratio: float) -> torch.Tensor:
    """Image coordinate of SimCC bin ``bin_index`` (``bin / split_ratio``)."""
    return bin_index / split_ratio


def simcc_bin_centers(
    num_bins: int, split_ratio: float, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Image coordinates ``[num_bins]`` of the centers of a SimCC axis's bins."""
    return simcc_bin_to_image(torch.arange(num_bins, device=device, dtype=dtype), split_ratio)


# DeepLabCut's grid (``pose_estimation_pytorch``, v3) puts cell ``j``'s center at ``j*stride + stride/2``:
# for every stride, half a pixel right of (and below) ours, ``(j + 0.5)*stride - 0.5``: on the same maps
# DLC's decoder returns ours + 0.5 px. Each side encodes and decodes on its own grid, so labels and each
# side's own predictions are file pixels alike; convert only where maps made under one grid are decoded
# under the other (our head, DLC's decoder: dlc_to_ours; a DLC-trained head, our decoder: ours_to_dlc).
DLC_GRID_OFFSET = 0.5


def dlc_to_ours(keypoints: torch.Tensor) -> torch.Tensor:
    """``[..., 2 + C]`` keypoints decoded on DeepLabCut's grid → ours: x, y minus 0.5 px (other channels kept)."""
    return _shift_xy(keypoints, -DLC_GRID_OFFSET)


def ours_to_dlc(keypoints: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`dlc_to_ours`: x, y plus 0.5 px, other channels (score, visibility) kept."""
    return _shift_xy(keypoints, DLC_GRID_OFFSET)


def _shift_xy(keypoints: torch.Tensor, offset: float) -> torch.Tensor:
    if keypoints.shape[-1] < 2:
        raise ValueError(f"keypoints must be [..., 2 + C] (x, y first), got shape {tuple(keypoints.shape)}")
    return torch.cat([keypoints[..., :2] + offset, keypoints[..., 2:]], dim=-1)
