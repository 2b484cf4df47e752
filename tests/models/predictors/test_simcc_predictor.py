"""SimCCPredictor: argmax bin / split ratio → input pixels, score = min of the two axes' maxima."""

from __future__ import annotations

import pytest
import torch

from lightning_pose_arch.models.predictors import PREDICTORS, SimCCPredictor


def test_argmax_bins_to_image_coordinates():
    simcc_x, simcc_y = torch.rand(2, 2, 20) * 0.1, torch.rand(2, 2, 12) * 0.1  # x and y sizes differ
    simcc_x[0, 0, 7], simcc_y[0, 0, 3] = 0.9, 0.6
    simcc_x[1, 1, 19], simcc_y[1, 1, 0] = 0.8, 0.95
    keypoints = SimCCPredictor(split_ratio=2.0)({"x": simcc_x, "y": simcc_y}, stride=123.0)["keypoints"]
    assert keypoints.shape == (2, 1, 2, 3)
    assert keypoints[0, 0, 0].tolist() == pytest.approx([3.5, 1.5, 0.6])  # score: the smaller maximum
    assert keypoints[1, 0, 1].tolist() == pytest.approx([9.5, 0.0, 0.8])


def test_raw_scores_are_clamped_and_softmax_scores_are_probabilities():
    simcc_x = torch.tensor([[[0.0, 5.0, 0.0]]])
    simcc_y = torch.tensor([[[-3.0, -2.0]]])
    raw = SimCCPredictor(split_ratio=1.0)({"x": simcc_x, "y": simcc_y}, 1.0)["keypoints"]
    assert raw[0, 0, 0].tolist() == [1.0, 1.0, 0.0]
    soft = SimCCPredictor(split_ratio=1.0, apply_softmax=True)({"x": simcc_x, "y": simcc_y}, 1.0)["keypoints"]
    expected = min(simcc_x.softmax(-1).max().item(), simcc_y.softmax(-1).max().item())
    assert soft[0, 0, 0].tolist() == pytest.approx([1.0, 1.0, expected])


def test_split_ratio_three_and_built_from_registry():
    simcc = {"x": torch.zeros(1, 1, 30), "y": torch.zeros(1, 1, 30)}
    simcc["x"][0, 0, 10], simcc["y"][0, 0, 29] = 1.0, 1.0
    keypoints = PREDICTORS.build(dict(type="SimCCPredictor", split_ratio=3))(simcc, 1 / 3)["keypoints"]
    assert keypoints[0, 0, 0, :2].tolist() == pytest.approx([10 / 3, 29 / 3])


def test_invalid_split_ratio_raises():
    with pytest.raises(ValueError, match="split_ratio"):
        SimCCPredictor(split_ratio=0.0)
