"""HeatmapPredictor: argmax cell → image coordinates, locref offsets, score semantics."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_pose_arch.models.predictors import PREDICTORS, HeatmapPredictor


def peaked(batch: int, num_kpts: int, height: int, width: int, peaks: dict, value: float = 0.9) -> torch.Tensor:
    """Heatmap of small noise with ``value`` at ``peaks[(b, k)] = (row, col)``."""
    heatmap = torch.rand(batch, num_kpts, height, width) * 0.1
    for (b, k), (row, col) in peaks.items():
        heatmap[b, k, row, col] = value
    return heatmap


def test_argmax_cell_to_image_coordinates_non_square_grid():
    # h=6, w=10 so rows and columns cannot be confused
    heatmap = peaked(2, 2, 6, 10, {(0, 0): (3, 5), (0, 1): (0, 9), (1, 0): (5, 0), (1, 1): (2, 7)})
    keypoints = HeatmapPredictor(location_refinement=False)({"heatmap": heatmap}, stride=8)["keypoints"]
    assert keypoints.shape == (2, 1, 2, 3)
    center = lambda j: (j + 0.5) * 8 - 0.5  # noqa: E731
    expected_xy = [[[center(5), center(3)], [center(9), center(0)]], [[center(0), center(5)], [center(7), center(2)]]]
    assert keypoints[:, 0, :, :2].tolist() == expected_xy
    assert keypoints[0, 0, 0, :2].tolist() == [43.5, 27.5]
    assert keypoints[..., 2].flatten().tolist() == pytest.approx([0.9] * 4)


def test_locref_offsets_scaled_by_locref_std_and_interleaved():
    heatmap = peaked(1, 2, 6, 10, {(0, 0): (3, 5), (0, 1): (1, 2)})
    locref = torch.randn(1, 4, 6, 10)  # everywhere else: noise that must not be read
    locref[0, 0, 3, 5], locref[0, 1, 3, 5] = 0.5, -0.25  # keypoint 0: x, y
    locref[0, 2, 1, 2], locref[0, 3, 1, 2] = -1.0, 2.0  # keypoint 1: x, y
    predictor = HeatmapPredictor(location_refinement=True, locref_std=2.0)
    keypoints = predictor({"heatmap": heatmap, "locref": locref}, stride=8)["keypoints"][0, 0]
    assert keypoints[0, :2].tolist() == pytest.approx([43.5 + 1.0, 27.5 - 0.5])
    assert keypoints[1, :2].tolist() == pytest.approx([19.5 - 2.0, 11.5 + 4.0])


def test_location_refinement_false_ignores_locref():
    heatmap = peaked(1, 1, 4, 4, {(0, 0): (1, 2)})
    predictor = HeatmapPredictor(location_refinement=False)
    with_locref = predictor({"heatmap": heatmap, "locref": torch.ones(1, 2, 4, 4)}, stride=4)["keypoints"]
    without = predictor({"heatmap": heatmap}, stride=4)["keypoints"]
    assert torch.equal(with_locref, without)
    assert without[0, 0, 0, :2].tolist() == [9.5, 5.5]


def test_locref_missing_when_required_raises():
    with pytest.raises(KeyError, match="locref"):
        HeatmapPredictor(location_refinement=True)({"heatmap": torch.rand(1, 1, 4, 4)}, stride=4)


@pytest.mark.parametrize(("peak", "expected"), [(0.7, 0.7), (2.5, 1.0), (-3.0, 0.0)])
def test_score_is_heatmap_value_clamped(peak, expected):
    heatmap = torch.full((1, 1, 4, 4), -10.0)
    heatmap[0, 0, 2, 1] = peak
    keypoints = HeatmapPredictor(location_refinement=False)({"heatmap": heatmap}, stride=4)["keypoints"]
    assert keypoints[0, 0, 0, 2].item() == pytest.approx(expected)
    assert keypoints[0, 0, 0, :2].tolist() == [5.5, 9.5]


@pytest.mark.parametrize("logit", [0.0, 2.0, -3.0, 8.0])
def test_score_with_apply_sigmoid(logit):
    heatmap = torch.full((1, 1, 4, 4), -20.0)
    heatmap[0, 0, 3, 3] = logit
    predictor = PREDICTORS.build(dict(type="HeatmapPredictor", location_refinement=False, apply_sigmoid=True))
    score = predictor({"heatmap": heatmap}, stride=4)["keypoints"][0, 0, 0, 2].item()
    assert score == pytest.approx(1.0 / (1.0 + math.exp(-logit)))


def test_scores_stay_in_unit_interval_and_output_is_batched():
    torch.manual_seed(0)
    outputs = {"heatmap": torch.randn(3, 5, 8, 8) * 4, "locref": torch.randn(3, 10, 8, 8)}
    keypoints = HeatmapPredictor()(outputs, stride=4)["keypoints"]
    assert keypoints.shape == (3, 1, 5, 3)
    assert ((keypoints[..., 2] >= 0) & (keypoints[..., 2] <= 1)).all()
    # each batch item decodes on its own: decoding one item alone gives the same result
    alone = HeatmapPredictor()({k: v[1:2] for k, v in outputs.items()}, stride=4)["keypoints"]
    torch.testing.assert_close(alone, keypoints[1:2])


def test_invalid_locref_std_raises():
    with pytest.raises(ValueError, match="locref_std"):
        HeatmapPredictor(locref_std=0.0)
