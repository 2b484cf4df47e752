"""Differentiable decode: lands where the argmax predictors do, and passes gradients to the model."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from lightning_pose_arch.models.consistency import TemporalLoss
from lightning_pose_arch.models.consistency.decode import (
    check_soft_decodable,
    simcc_expectation,
    soft_argmax_heatmap,
    soft_keypoints,
)
from lightning_pose_arch.models.grid import grid_to_image
from lightning_pose_arch.models.predictors import PREDICTORS
from lightning_pose_arch.models.pose_model import PoseModel
from lightning_pose_arch.registry import ConfigError


def test_sharp_heatmap_peak_decodes_to_its_cell_center() -> None:
    heatmap = torch.zeros(1, 2, 8, 10)
    heatmap[0, 0, 3, 7] = 1.0
    heatmap[0, 1, 0, 0] = 1.0
    xy = soft_argmax_heatmap(heatmap, stride=4.0, temperature=100.0)
    expected = [[grid_to_image(torch.tensor(7.0), 4.0).item(), grid_to_image(torch.tensor(3.0), 4.0).item()],
                [1.5, 1.5]]
    assert torch.allclose(xy[0], torch.tensor(expected), atol=1e-4)


def test_two_equal_cells_decode_to_their_midpoint_and_locref_shifts() -> None:
    heatmap = torch.zeros(1, 1, 4, 4)
    heatmap[0, 0, 1, 1] = heatmap[0, 0, 1, 2] = 1.0
    locref = torch.zeros(1, 2, 4, 4)
    locref[0, 0, 1, 1:3] = 0.5  # x offset of half a locref_std at both peak cells
    xy = soft_argmax_heatmap(heatmap, stride=2.0, temperature=100.0, locref=locref, locref_std=3.0)
    assert xy[0, 0].tolist() == pytest.approx([(2.5 + 4.5) / 2 + 1.5, 2.5], abs=1e-4)


def test_simcc_expectation_of_one_hot_bins_is_the_bin_center() -> None:
    x, y = torch.full((1, 1, 20), -10.0), torch.full((1, 1, 16), -10.0)
    x[0, 0, 7], y[0, 0, 4] = 10.0, 10.0
    xy = simcc_expectation(x, y, split_ratio=2.0, beta=10.0)
    assert xy[0, 0].tolist() == pytest.approx([3.5, 2.0], abs=1e-4)


def small_model(head: dict) -> PoseModel:
    torch.manual_seed(0)
    return PoseModel.from_config({"backbone": {"type": "CSPNeXt", "variant": "s"}, "heads": {"body": head}},
                                 num_keypoints=3, image_size=(64, 64))


HEATMAP = {"type": "HeatmapHead", "predictor": {"type": "HeatmapPredictor"},
           "target_generator": {"type": "HeatmapGaussianGenerator", "generate_locref": True},
           "criterion": {"type": "WeightedMSECriterion"},
           "heatmap_config": {"num_deconv_layers": 1, "deconv_channels": 8}}
SIMCC = {"type": "RTMCCHead", "predictor": {"type": "SimCCPredictor"}, "target_generator": {"type": "SimCCGenerator"},
         "criterion": {"type": "KLDiscreteLoss"}, "hidden_dims": 16, "gau_attention_dims": 8}


@pytest.mark.parametrize("head_cfg", [HEATMAP, SIMCC], ids=["heatmap", "simcc"])
def test_gradients_flow_from_a_consistency_loss_to_the_model(head_cfg: dict) -> None:
    model = small_model(head_cfg)
    outputs = model(torch.randn(4, 3, 64, 64))["body"]
    keypoints = soft_keypoints(model.heads["body"], outputs, model.head_strides["body"], 100.0, 10.0)
    assert keypoints.shape == (4, 3, 3)
    TemporalLoss(epsilon=0.0)(keypoints.reshape(1, 4, 3, 3)).backward()
    head_grads = [p.grad for p in model.heads["body"].parameters() if p.requires_grad]
    assert all(g is not None for g in head_grads) and sum(g.abs().sum() for g in head_grads) > 0
    assert sum(p.grad.abs().sum() for p in model.backbone.parameters() if p.grad is not None) > 0


def test_multi_animal_heads_are_refused() -> None:
    head = SimpleNamespace(predictor=PREDICTORS.build({"type": "DEKRPredictor"}))
    with pytest.raises(ConfigError, match="head 'dekr' has a DEKRPredictor"):
        check_soft_decodable(head, "dekr")
