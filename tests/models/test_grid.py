"""The grid ↔ image mapping: pixel centers at integers, a cell covers ``stride`` pixels."""

from __future__ import annotations

import pytest
import torch

from lightning_pose_arch.models.grid import cell_centers, grid_to_image, image_to_grid

STRIDES = [1, 2, 4, 8, 16, 32, 2.5]


@pytest.mark.parametrize("stride", STRIDES)
def test_image_to_grid_inverts_grid_to_image(stride):
    coords = torch.rand(1000, dtype=torch.float64) * 500 - 50
    torch.testing.assert_close(grid_to_image(image_to_grid(coords, stride), stride), coords)
    torch.testing.assert_close(image_to_grid(grid_to_image(coords, stride), stride), coords)


def test_cell_centers_stride_4():
    ys, xs = cell_centers(3, 5, 4)
    assert xs.tolist() == [1.5, 5.5, 9.5, 13.5, 17.5]
    assert ys.tolist() == [1.5, 5.5, 9.5]


@pytest.mark.parametrize("stride", [1, 2, 4, 8, 16])
def test_cell_center_is_mean_of_the_pixels_it_covers(stride):
    _, xs = cell_centers(1, 6, stride, dtype=torch.float64)
    for j, center in enumerate(xs.tolist()):
        pixels = list(range(j * stride, (j + 1) * stride))
        assert center == pytest.approx(sum(pixels) / stride)


def test_stride_1_is_identity():
    coords = torch.tensor([0.0, 1.0, 7.25])
    assert torch.equal(grid_to_image(coords, 1), coords)
    assert torch.equal(image_to_grid(coords, 1), coords)


def test_known_values():
    assert grid_to_image(torch.tensor(0.0), 8).item() == 3.5
    assert image_to_grid(torch.tensor(-0.5), 4).item() == -0.5  # left edge of the image is the left edge of cell 0
    assert image_to_grid(torch.tensor(15.5), 4).item() == 3.5  # right edge of a 16-pixel image: right edge of cell 3


def test_cell_centers_dtype_and_device():
    ys, xs = cell_centers(2, 3, 4, device=torch.device("cpu"), dtype=torch.float64)
    assert ys.dtype == xs.dtype == torch.float64
    assert ys.shape == (2,) and xs.shape == (3,)
