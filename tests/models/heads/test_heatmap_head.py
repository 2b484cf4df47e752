"""HeatmapHead: branch shapes, locref agreement checks, sizes filled from features and data, losses."""

from __future__ import annotations

import copy

import pytest
import torch

from lightning_pose_arch.models.heads import HEADS, HeatmapHead
from lightning_pose_arch.registry import ConfigError


def head_cfg(num_kpts: int = 3, locref: bool = True, **heatmap_config) -> dict:
    return dict(
        type="HeatmapHead",
        predictor=dict(type="HeatmapPredictor", location_refinement=locref),
        target_generator=dict(type="HeatmapGaussianGenerator", num_heatmaps=num_kpts, generate_locref=locref),
        criterion=dict(type="WeightedMSECriterion"),
        heatmap_config=dict(dict(num_input_channels=8, num_output_channels=num_kpts), **heatmap_config),
    )


def labeled_keypoints(batch: int, num_kpts: int, size: float, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    keypoints = torch.rand(batch, 1, num_kpts, 3, generator=generator) * (size - 1)
    keypoints[..., 2] = 2.0
    return keypoints


@pytest.mark.parametrize("layers", [0, 1, 2, 3])
def test_deconv_layers_set_resolution(layers):
    head = HEADS.build(head_cfg(num_deconv_layers=layers, deconv_channels=4))
    assert head.upsampling == 2**layers
    outputs = head(torch.randn(2, 8, 5, 3))
    assert outputs["heatmap"].shape == (2, 3, 5 * 2**layers, 3 * 2**layers)
    assert outputs["locref"].shape == (2, 6, 5 * 2**layers, 3 * 2**layers)


@pytest.mark.parametrize("kernel", [1, 3])
def test_final_conv_kernel_keeps_size(kernel):
    head = HEADS.build(head_cfg(num_deconv_layers=0, final_conv_kernel=kernel))
    assert head(torch.randn(1, 8, 6, 6))["heatmap"].shape == (1, 3, 6, 6)


def test_invalid_heatmap_config_values_raise():
    with pytest.raises(ValueError, match="final_conv_kernel"):
        HEADS.build(head_cfg(final_conv_kernel=5))
    with pytest.raises(ValueError, match="positive"):
        HEADS.build(head_cfg(num_deconv_layers=-1))


def test_shared_deconvs_give_the_same_outputs_from_one_stack():
    separate = HEADS.build(head_cfg(num_deconv_layers=2, deconv_channels=16, final_conv_kernel=3))
    shared = HEADS.build(dict(head_cfg(num_deconv_layers=2, deconv_channels=16, final_conv_kernel=3), share_deconvs=True))
    features = torch.randn(2, 8, 5, 3)
    assert {k: v.shape for k, v in shared(features).items()} == {k: v.shape for k, v in separate(features).items()}
    assert len(shared.locref_branch) == 1 and shared.locref_branch[0].kernel_size == (3, 3)  # one conv, no deconv
    # the locref maps are that conv applied to the heatmap branch's last deconvolution output
    hidden = shared.heatmap_branch.trunk(features)
    torch.testing.assert_close(shared(features)["locref"], shared.locref_branch(hidden))
    count = lambda head: sum(p.numel() for p in head.parameters())  # noqa: E731
    assert count(shared) < 0.55 * count(separate)
    with pytest.raises(ValueError, match="locref_config cannot be set with share_deconvs"):
        HEADS.build(dict(head_cfg(), share_deconvs=True, locref_config=dict(num_input_channels=8, num_output_channels=6)))


def test_no_locref_branch_without_location_refinement():
    head = HEADS.build(head_cfg(locref=False))
    assert head.locref_branch is None
    assert set(head(torch.randn(1, 8, 4, 4))) == {"heatmap"}


def test_predictor_and_generator_must_agree_on_locref():
    cfg = head_cfg()
    cfg["target_generator"]["generate_locref"] = False
    message = "must share location_refinement, got HeatmapGaussianGenerator.generate_locref=False, HeatmapPredictor"
    with pytest.raises(ValueError, match=message):
        HEADS.build(cfg)


def test_locref_config_must_keep_input_and_layers():
    cfg = head_cfg(num_deconv_layers=1)
    cfg["locref_config"] = dict(num_input_channels=8, num_output_channels=6, num_deconv_layers=2)
    with pytest.raises(ValueError, match="locref_config"):
        HEADS.build(cfg)
    cfg["locref_config"] = dict(num_input_channels=8, num_output_channels=6, num_deconv_layers=1, deconv_channels=16)
    assert HEADS.build(cfg)(torch.randn(1, 8, 4, 4))["locref"].shape == (1, 6, 8, 8)


def test_misspelled_locref_config_key():
    cfg = head_cfg()
    cfg["locref_config"] = dict(num_input_channel=8, num_output_channels=6)
    with pytest.raises(ConfigError, match="did you mean 'num_input_channels'"):
        HEADS.build(cfg)


def test_fill_sizes_fills_only_unset_and_does_not_mutate():
    cfg = head_cfg()
    del cfg["heatmap_config"]
    del cfg["target_generator"]["num_heatmaps"]
    before = copy.deepcopy(cfg)
    filled = HeatmapHead.fill_sizes(cfg, in_channels=32, num_keypoints=5)
    assert cfg == before
    assert filled["heatmap_config"] == {"num_input_channels": 32, "num_output_channels": 5}
    assert filled["target_generator"]["num_heatmaps"] == 5
    explicit = HeatmapHead.fill_sizes(head_cfg(num_kpts=3), in_channels=32, num_keypoints=5)
    assert explicit["heatmap_config"] == {"num_input_channels": 8, "num_output_channels": 3}
    assert explicit["target_generator"]["num_heatmaps"] == 3
    only_channels = HeatmapHead.fill_sizes(cfg, in_channels=32, num_keypoints=None)
    assert only_channels["heatmap_config"] == {"num_input_channels": 32}


def test_get_targets_and_loss_terms():
    head = HEADS.build(head_cfg(num_deconv_layers=1))
    outputs = head(torch.randn(2, 8, 4, 4))
    targets = head.get_targets(labeled_keypoints(2, 3, 32), outputs, stride=4.0)
    assert set(targets) == {"heatmap", "locref"}
    assert targets["heatmap"]["target"].shape == outputs["heatmap"].shape
    losses = head.get_loss(outputs, targets)
    assert set(losses) == {"total", "heatmap", "locref"}
    torch.testing.assert_close(losses["total"], losses["heatmap"] + losses["locref"])


def test_per_output_criterion_and_aggregator():
    cfg = head_cfg(num_deconv_layers=1)
    cfg["criterion"] = dict(heatmap=dict(type="WeightedMSECriterion"),
                            locref=dict(type="WeightedHuberCriterion", delta=1.0))
    cfg["aggregator"] = dict(type="WeightedLossAggregator", weights=dict(locref=0.05))
    head = HEADS.build(cfg)
    outputs = head(torch.randn(2, 8, 4, 4))
    targets = head.get_targets(labeled_keypoints(2, 3, 32), outputs, stride=4.0)
    losses = head.get_loss(outputs, targets)
    locref_huber = torch.nn.functional.huber_loss(outputs["locref"], targets["locref"]["target"], reduction="none")
    weights = targets["locref"]["weights"]
    torch.testing.assert_close(losses["locref"], (locref_huber * weights).sum() / weights.sum())
    torch.testing.assert_close(losses["total"], losses["heatmap"] + 0.05 * losses["locref"])


def test_predict_uses_stride():
    head = HEADS.build(head_cfg(num_deconv_layers=0, locref=False))
    outputs = {"heatmap": torch.zeros(1, 3, 4, 4)}
    outputs["heatmap"][0, :, 1, 2] = 1.0
    keypoints = head.predict(outputs, stride=8.0)["keypoints"]
    assert keypoints.shape == (1, 1, 3, 3)
    assert keypoints[0, 0, 0].tolist() == [19.5, 11.5, 1.0]
