"""DEKRGenerator: exact values on a hand-made animal, ownership of overlapping regions, unlabeled keypoints."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_pose_arch.models.target_generators import TARGET_GENERATORS, DEKRGenerator
from lightning_pose_arch.models.target_generators.dekr import individual_centers

STRIDE = 4


def cell(col: float, row: float) -> tuple[float, float]:
    """Image (x, y) of the center of grid cell (col, row) at STRIDE."""
    return (col + 0.5) * STRIDE - 0.5, (row + 0.5) * STRIDE - 0.5


def targets(keypoints: torch.Tensor, grid: tuple[int, int] = (8, 8), **kwargs) -> dict:
    num_kpts = keypoints.shape[2]
    settings = {"sigma": 4.0, "center_sigma": 4.0, "center_radius": 6.0, **kwargs}
    generator = DEKRGenerator(num_keypoints=num_kpts, **settings)
    outputs = {"heatmap": torch.zeros(keypoints.shape[0], num_kpts + 1, *grid),
               "offset": torch.zeros(keypoints.shape[0], 2 * num_kpts, *grid)}
    return generator(keypoints, outputs, STRIDE)


def one_animal(visibility_1: float = 2.0) -> torch.Tensor:
    """Keypoint 0 on cell (col 1, row 1), keypoint 1 on cell (col 3, row 5): center on cell (col 2, row 3)."""
    return torch.tensor([[[[*cell(1, 1), 2.0], [*cell(3, 5), visibility_1]]]])


def test_hand_made_animal_values():
    out = targets(one_animal())
    heatmap, offset = out["heatmap"]["target"][0], out["offset"]["target"][0]
    assert heatmap.shape == (3, 8, 8) and offset.shape == (4, 8, 8)
    assert heatmap[0, 1, 1].item() == pytest.approx(1.0)
    assert heatmap[0, 1, 2].item() == pytest.approx(math.exp(-16 / (2 * 16)))  # 4 px away, σ = 4
    assert heatmap[1, 5, 3].item() == pytest.approx(1.0)
    assert heatmap[2, 3, 2].item() == pytest.approx(1.0)  # the center channel
    assert heatmap[2, 4, 3].item() == pytest.approx(math.exp(-32 / (2 * 16)))
    assert out["heatmap"]["weights"].flatten().tolist() == [1.0, 1.0, 1.0]
    # offsets in grid cells: keypoint minus cell center, over STRIDE
    assert offset[:, 3, 2].tolist() == [-1.0, -2.0, 1.0, 2.0]  # at the center cell
    assert offset[:, 2, 3].tolist() == [-2.0, -1.0, 0.0, 3.0]  # cell (col 3, row 2)
    weights = out["offset"]["weights"][0]
    # radius 6 px: the center cell, its 4 neighbours (4 px) and 4 diagonals (5.66 px); not 8 px away
    assert weights.sum(dim=(1, 2)).tolist() == [9.0, 9.0, 9.0, 9.0]
    assert weights[0, 2:5, 1:4].eq(1).all() and weights[0, 3, 0] == 0 and weights[0, 5, 2] == 0
    assert offset[:, weights[0] == 0].abs().sum() == 0


def test_weight_by_area_is_inverse_sqrt_of_bbox_area_in_cells():
    out = targets(one_animal(), weight_by_area=True)
    weights = out["offset"]["weights"][0]
    # bounding box 2 × 4 cells
    assert weights[:, 3, 2].tolist() == pytest.approx([1 / math.sqrt(8)] * 4)
    assert weights.sum().item() == pytest.approx(36 / math.sqrt(8))


def test_unlabeled_keypoint_gets_zero_weight_and_finite_targets():
    keypoints = one_animal(visibility_1=0.0)
    keypoints[0, 0, 1, :2] = float("nan")
    out = targets(keypoints)
    assert all(torch.isfinite(t).all() for o in out.values() for t in o.values())
    assert out["heatmap"]["weights"].flatten().tolist() == [1.0, 0.0, 1.0]
    assert out["heatmap"]["target"][0, 1].abs().sum() == 0
    offset, weights = out["offset"]["target"][0], out["offset"]["weights"][0]
    assert weights[2:].sum() == 0 and offset[2:].abs().sum() == 0
    # the center is keypoint 0 alone, so its offsets are 0 at the center cell
    assert out["heatmap"]["target"][0, 2, 1, 1].item() == pytest.approx(1.0)
    assert weights[0, 1, 1] == 1 and offset[:2, 1, 1].tolist() == [0.0, 0.0]


def test_individual_without_labels_is_ignored():
    keypoints = torch.cat([one_animal(), torch.tensor([[[[3.0, 3.0, 0.0], [float("nan"), 0.0, 0.0]]]])], dim=1)
    with_ghost, alone = targets(keypoints), targets(one_animal())
    for name in ("heatmap", "offset"):
        for part in ("target", "weights"):
            torch.testing.assert_close(with_ghost[name][part], alone[name][part], rtol=0, atol=0)


def test_image_without_individuals_gets_zero_weights():
    out = targets(torch.zeros(1, 2, 2, 3))
    assert out["heatmap"]["weights"].sum() == 0 and out["offset"]["weights"].sum() == 0
    assert out["heatmap"]["target"].sum() == 0


def test_overlapping_regions_go_to_the_nearest_center():
    """Centers 3 cells apart on a row; radius 20 px covers both: each cell takes its nearest center's offsets."""
    a = torch.tensor([[*cell(2, 2), 2.0], [*cell(2, 4), 2.0]])  # center cell (2, 3)
    b = torch.tensor([[*cell(5, 2), 2.0], [*cell(5, 4), 2.0]])  # center cell (5, 3)
    out = targets(torch.stack([a, b])[None], grid=(8, 10), center_radius=20.0)
    offset = out["offset"]["target"][0]
    assert offset[:, 3, 3].tolist() == [-1.0, -1.0, -1.0, 1.0]  # column 3 is nearer a (1 cell) than b (2 cells)
    assert offset[:, 3, 4].tolist() == [1.0, -1.0, 1.0, 1.0]  # column 4 is nearer b
    assert offset[:, 0, 7].tolist() == [-2.0, 2.0, -2.0, 4.0]  # b's, √13 cells from b (radius 5 cells)
    assert out["offset"]["weights"][0, :, 0, 7].tolist() == [1.0] * 4
    assert out["offset"]["weights"][0, :, 7, 9].tolist() == [0.0] * 4  # √32 > 5 cells from b
    # heatmaps: max over individuals; both centers peak at 1
    center = out["heatmap"]["target"][0, 2]
    assert center[3, 2].item() == pytest.approx(1.0) and center[3, 5].item() == pytest.approx(1.0)


def test_centers_are_means_of_labeled_keypoints():
    keypoints = torch.tensor([[[[0.0, 0.0, 2.0], [4.0, 8.0, 1.0], [100.0, float("nan"), 0.0]],
                               [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]])
    centers, present = individual_centers(keypoints)
    assert centers.tolist() == [[[2.0, 4.0], [0.0, 0.0]]]
    assert present.tolist() == [[True, False]]


def test_batched_equals_one_image_at_a_time():
    generator = torch.Generator().manual_seed(0)
    keypoints = torch.rand(3, 4, 5, 3, generator=generator) * 60
    keypoints[..., 2] = (torch.rand(3, 4, 5, generator=generator) > 0.2).float() * 2
    batched = targets(keypoints, grid=(16, 16), center_radius=12.0)
    for b in range(3):
        single = targets(keypoints[b:b + 1], grid=(16, 16), center_radius=12.0)
        for name in ("heatmap", "offset"):
            for part in ("target", "weights"):
                torch.testing.assert_close(batched[name][part][b:b + 1], single[name][part])


def test_channel_count_must_agree():
    generator = DEKRGenerator(num_keypoints=2)
    with pytest.raises(ValueError, match="num_keypoints"):
        generator(one_animal(), {"heatmap": torch.zeros(1, 2, 8, 8), "offset": torch.zeros(1, 4, 8, 8)}, STRIDE)


@pytest.mark.parametrize("kwargs", [dict(num_keypoints=0), dict(num_keypoints=2, sigma=0.0),
                                    dict(num_keypoints=2, center_radius=-1.0)])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError, match="DEKRGenerator"):
        TARGET_GENERATORS.build(dict(type="DEKRGenerator", **kwargs))
