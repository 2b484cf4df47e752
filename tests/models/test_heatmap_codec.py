"""Heatmap encode → decode round trip: generator targets fed to the predictor give the labels back."""

from __future__ import annotations

import pytest
import torch

from lightning_pose_arch.models.predictors import HeatmapPredictor
from lightning_pose_arch.models.target_generators import HeatmapGaussianGenerator, HeatmapPlateauGenerator

STRIDES = [2, 4, 8, 16]
GRID = (12, 10)  # h, w cells: non-square on purpose


def random_keypoints(stride: int, batch: int = 4, num_kpts: int = 6, seed: int = 0) -> torch.Tensor:
    """Sub-pixel keypoints anywhere in the ``GRID * stride`` image (pixel centers 0 … size-1)."""
    generator = torch.Generator().manual_seed(seed + stride)
    height, width = GRID[0] * stride, GRID[1] * stride
    xy = torch.rand(batch, 1, num_kpts, 2, generator=generator) * torch.tensor([width - 1.0, height - 1.0])
    return torch.cat([xy, torch.full((batch, 1, num_kpts, 1), 2.0)], dim=-1)


def encode_decode(generator, predictor, keypoints: torch.Tensor, stride: int) -> torch.Tensor:
    outputs = {"heatmap": torch.zeros(keypoints.shape[0], keypoints.shape[2], *GRID)}
    targets = generator(keypoints, outputs, stride)
    decoded = {name: target["target"] for name, target in targets.items()}  # targets as if they were outputs
    return predictor(decoded, stride)["keypoints"]


@pytest.mark.parametrize("stride", STRIDES)
@pytest.mark.parametrize("locref_std", [7.2801, 1.0])
def test_gaussian_round_trip_with_locref_within_0_1_px(stride, locref_std):
    keypoints = random_keypoints(stride)
    # the argmax cell is at most stride/√2 px away: keep it inside the locref radius
    thresh = max(17.0, stride)
    generator = HeatmapGaussianGenerator(num_heatmaps=6, pos_dist_thresh=thresh, locref_std=locref_std)
    predictor = HeatmapPredictor(location_refinement=True, locref_std=locref_std)
    decoded = encode_decode(generator, predictor, keypoints, stride)
    assert decoded.shape == (4, 1, 6, 3)
    error = (decoded[..., :2] - keypoints[..., :2]).abs()
    assert error.max().item() < 0.1
    # score: the Gaussian at the nearest cell, never more than stride/√2 px away
    sigma = 2 / 3 * thresh
    assert decoded[..., 2].min().item() >= torch.exp(torch.tensor(-(stride**2 / 2) / (2 * sigma**2))).item() - 1e-6


@pytest.mark.parametrize("stride", STRIDES)
def test_gaussian_round_trip_without_locref_within_half_stride(stride):
    keypoints = random_keypoints(stride, seed=1)
    generator = HeatmapGaussianGenerator(num_heatmaps=6, generate_locref=False)
    predictor = HeatmapPredictor(location_refinement=False)
    decoded = encode_decode(generator, predictor, keypoints, stride)
    error = (decoded[..., :2] - keypoints[..., :2]).abs()
    assert error.max().item() <= stride / 2 + 1e-4
    # and it is the nearest cell center, not just any cell within reach
    nearest = (torch.floor((keypoints[..., :2] + 0.5) / stride) + 0.5) * stride - 0.5
    torch.testing.assert_close(decoded[..., :2], nearest)


@pytest.mark.parametrize("stride", STRIDES)
def test_plateau_round_trip_with_locref_within_0_1_px(stride):
    """Plateau maps have ties; whichever tied cell wins, its locref points back to the keypoint."""
    keypoints = random_keypoints(stride, seed=2)
    generator = HeatmapPlateauGenerator(num_heatmaps=6, pos_dist_thresh=max(9.0, stride))
    predictor = HeatmapPredictor(location_refinement=True)
    decoded = encode_decode(generator, predictor, keypoints, stride)
    assert (decoded[..., :2] - keypoints[..., :2]).abs().max().item() < 0.1
    assert decoded[..., 2].min().item() == 1.0


def test_round_trip_on_cell_centers_is_exact_without_locref():
    stride = 4
    rows, cols = torch.tensor([0, 3, 11]), torch.tensor([9, 0, 5])
    xy = torch.stack([(cols + 0.5) * stride - 0.5, (rows + 0.5) * stride - 0.5], dim=-1)
    keypoints = torch.cat([xy, torch.full((3, 1), 2.0)], dim=-1)[None, None]  # [1, 1, 3, 3]
    generator = HeatmapGaussianGenerator(num_heatmaps=3, generate_locref=False)
    decoded = encode_decode(generator, HeatmapPredictor(location_refinement=False), keypoints, stride)
    assert torch.equal(decoded[..., :2], keypoints[..., :2])
    assert decoded[..., 2].flatten().tolist() == [1.0, 1.0, 1.0]
