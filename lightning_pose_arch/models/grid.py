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
