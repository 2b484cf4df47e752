"""The grid ↔ image mapping: pixel centers at integers, a cell covers ``stride`` pixels."""

from __future__ import annotations

import pytest
import torch

from lightning_pose_arch.models.grid import cell_centers, dlc_to_ours, grid_to_image, image_to_grid, ours_to_dlc
from lightning_pose_arch.models.predictors import HeatmapPredictor

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


def dlc_heatmap_decode(heatmap: torch.Tensor, locref: torch.Tensor, stride: float, locref_std: float) -> torch.Tensor:
    """DeepLabCut 3's ``HeatmapPredictor.get_pose_prediction`` (v3.0.1), written out: ``[B, K, 3]``."""
    batch, num_kpts, height, width = heatmap.shape
    flat = heatmap.flatten(2).argmax(dim=2)
    row, col = flat // width, flat % width
    offsets = locref.reshape(batch, num_kpts, 2, -1).gather(3, flat[:, :, None, None].expand(-1, -1, 2, 1))[..., 0]
    x = col * stride + stride / 2 + offsets[..., 0] * locref_std  # DLC: grid * stride + stride / 2
    y = row * stride + stride / 2 + offsets[..., 1] * locref_std
    return torch.stack([x, y, heatmap.flatten(2).amax(dim=2)], dim=-1)


@pytest.mark.parametrize("stride", [2, 4, 8, 2.5])
def test_dlc_decoder_is_ours_plus_half_a_pixel_and_dlc_to_ours_converts(stride):
    generator = torch.Generator().manual_seed(int(stride * 10))
    heatmap, locref = torch.rand(3, 5, 9, 11, generator=generator), torch.randn(3, 10, 9, 11, generator=generator)
    ours = HeatmapPredictor(location_refinement=True, locref_std=7.2801)({"heatmap": heatmap, "locref": locref},
                                                                           stride)["keypoints"][:, 0]
    dlc = dlc_heatmap_decode(heatmap, locref, stride, 7.2801)
    torch.testing.assert_close(dlc[..., :2] - ours[..., :2], torch.full_like(ours[..., :2], 0.5))
    torch.testing.assert_close(dlc_to_ours(dlc), ours)
    torch.testing.assert_close(ours_to_dlc(ours), dlc)


def test_dlc_conversion_keeps_extra_channels_and_inverts_exactly():
    keypoints = torch.tensor([[10.0, 20.0, 0.9], [0.0, -0.5, 2.0]], dtype=torch.float64)
    assert dlc_to_ours(keypoints).tolist() == [[9.5, 19.5, 0.9], [-0.5, -1.0, 2.0]]
    assert torch.equal(ours_to_dlc(dlc_to_ours(keypoints)), keypoints)
    with pytest.raises(ValueError, match="x, y first"):
        dlc_to_ours(torch.zeros(3, 1))
