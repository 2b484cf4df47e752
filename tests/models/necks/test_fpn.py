"""FPN neck: multi-scale maps → one map at output_stride; wiring and errors in PoseModel; a tiny overfit."""

from __future__ import annotations

import copy

import pytest
import torch

from lightning_pose_arch.models.backbones import BACKBONES
from lightning_pose_arch.models.necks import FPN, NECKS
from helpers import overfit_dots
from lightning_pose_arch.models.pose_model import PoseModel
from lightning_pose_arch.registry import ConfigError

CHANNELS, STRIDES = [8, 16, 32, 64], [4, 8, 16, 32]


def pyramid(channels=CHANNELS, strides=STRIDES, height: int = 64, width: int = 96) -> list[torch.Tensor]:
    return [torch.randn(2, c, height // s, width // s) for c, s in zip(channels, strides)]


def heatmap_head(num_deconv_layers: int = 0, **heatmap_config) -> dict:
    return dict(type="HeatmapHead", predictor=dict(type="HeatmapPredictor", location_refinement=False),
                target_generator=dict(type="HeatmapGaussianGenerator", pos_dist_thresh=8, generate_locref=False),
                criterion=dict(type="WeightedMSECriterion"),
                heatmap_config=dict(num_deconv_layers=num_deconv_layers, deconv_channels=16, **heatmap_config))


def fpn_model_cfg(backbone: dict, neck: dict | None = None, **head) -> dict:
    return dict(backbone=backbone, neck=neck or dict(type="FPN", out_channels=16), heads=dict(bodyparts=heatmap_head(**head)))


@pytest.mark.parametrize(("output_stride", "expected"), [(None, 4), (4, 4), (2, 2), (1, 1)])
def test_output_at_output_stride(output_stride, expected):
    fpn = NECKS.build(dict(type="FPN", in_channels=CHANNELS, in_strides=STRIDES, out_channels=24, output_stride=output_stride))
    assert (fpn.out_channels, fpn.stride) == (24, expected)
    assert fpn(pyramid()).shape == (2, 24, 64 // expected, 96 // expected)


def test_sizes_that_do_not_halve_evenly():
    """Maps of an image that is not a multiple of 32 (5×7 → 2×3 → ...): nearest upsampling to each size."""
    fpn = FPN(in_channels=[8, 16], in_strides=[16, 32], out_channels=4)
    maps = [torch.randn(1, 8, 5, 7), torch.randn(1, 16, 3, 4)]
    assert fpn(maps).shape == (1, 4, 5, 7)


def test_top_down_pathway_reaches_the_output():
    """The coarsest map changes the output everywhere (it is upsampled into every finer level)."""
    torch.manual_seed(0)
    fpn = FPN(in_channels=CHANNELS, in_strides=STRIDES, out_channels=8).eval()
    maps = pyramid()
    changed = [m.clone() for m in maps]
    changed[-1] += 1.0
    with torch.no_grad():
        difference = (fpn(changed) - fpn(maps)).abs()
    assert (difference[..., 1:-1, 1:-1] > 0).all()  # borders: the 3×3 smoothing sees zero padding


@pytest.mark.parametrize("backbone", [
    dict(type="ResNet", variant="50", out_indices=[1, 2, 3, 4]),
    dict(type="ResNet", variant="50", output_stride=16, out_indices=[2, 3, 4]),
    dict(type="HRNet", variant="w18", fuse_branches=False, out_indices=[1, 2, 3, 4]),
    dict(type="CSPNeXt", variant="s", out_indices=[2, 3, 4]),
], ids=lambda cfg: "-".join(str(v) for v in cfg.values()))
def test_composes_with_every_backbone(backbone):
    model = PoseModel.from_config(fpn_model_cfg(backbone, num_deconv_layers=1), num_keypoints=3)
    finest = BACKBONES.build(backbone).feature_strides[0]
    assert model.neck.in_strides[0] == finest and model.neck.stride == finest
    assert model.head_strides == {"bodyparts": finest / 2}
    model.eval()
    with torch.no_grad():
        heatmap = model(torch.randn(1, 3, 64, 64))["bodyparts"]["heatmap"]
    assert heatmap.shape == (1, 3, 64 * 2 // finest, 64 * 2 // finest)


def test_fill_sizes_fills_unset_input_sizes_only():
    cfg = dict(type="FPN", out_channels=16)
    before = copy.deepcopy(cfg)
    filled = FPN.fill_sizes(cfg, [8, 16], [8, 16], num_keypoints=5)
    assert filled == dict(type="FPN", out_channels=16, in_channels=[8, 16], in_strides=[8, 16])
    assert cfg == before
    assert FPN.fill_sizes(dict(cfg, in_channels=[1, 2]), [8, 16], [8, 16], None)["in_channels"] == [1, 2]


def test_single_map_backbone_is_rejected_with_a_hint():
    with pytest.raises(ConfigError, match=r"FPN needs multi-scale features .* 2048 channels .* out_indices"):
        PoseModel.from_config(fpn_model_cfg(dict(type="ResNet", variant="50")), num_keypoints=2)


def test_multi_scale_backbone_without_neck_is_rejected():
    cfg = fpn_model_cfg(dict(type="CSPNeXt", variant="s", out_indices=[3, 4]))
    del cfg["neck"]
    with pytest.raises(ConfigError, match=r"CSPNeXt returns 2 feature maps .* add a neck .*FPN"):
        PoseModel.from_config(cfg, num_keypoints=2)


def test_head_channel_mismatch_names_both():
    cfg = fpn_model_cfg(dict(type="CSPNeXt", variant="s", out_indices=[3, 4]), dict(type="FPN", out_channels=128),
                        num_input_channels=256)
    with pytest.raises(ConfigError, match=r"HeatmapHead\) expects 256 input channels, FPN gives 128"):
        PoseModel.from_config(cfg, num_keypoints=2)


def test_neck_sized_for_another_backbone_is_rejected():
    cfg = fpn_model_cfg(dict(type="CSPNeXt", variant="s", out_indices=[3, 4]),
                        dict(type="FPN", in_channels=[256, 1024], in_strides=[16, 32], out_channels=8))
    with pytest.raises(ConfigError, match=r"FPN expects input channels \[256, 1024\].*CSPNeXt gives channels \[256, 512\]"):
        PoseModel.from_config(cfg, num_keypoints=2)


@pytest.mark.parametrize(("cfg", "match"), [
    (dict(in_channels=[8, 16], in_strides=[4, 8], output_stride=8), "output_stride 8 must divide its finest input stride 4"),
    (dict(in_channels=[8, 16], in_strides=[4, 8], output_stride=3), "output_stride 3"),
    (dict(in_channels=[8, 16], in_strides=[4]), "equal length"),
    (dict(in_channels=[8, 16], in_strides=[8, 4]), "fine to coarse"),
    (dict(in_channels=[], in_strides=[]), "non-empty"),
])
def test_bad_levels_raise_config_error(cfg, match):
    with pytest.raises(ConfigError, match=match):
        NECKS.build(dict(type="FPN", **cfg))


def test_forward_checks_the_number_of_maps():
    fpn = FPN(in_channels=CHANNELS, in_strides=STRIDES)
    with pytest.raises(ValueError, match="list of 4 maps .* got 3 maps"):
        fpn(pyramid()[:3])
    with pytest.raises(ValueError, match="got one map"):
        fpn(pyramid()[0])


@pytest.mark.timeout(120)
def test_tiny_overfit_drives_loss_down():
    torch.manual_seed(0)
    cfg = fpn_model_cfg(dict(type="CSPNeXt", variant="s", out_indices=[1, 2, 3, 4]), dict(type="FPN", out_channels=32))
    model = PoseModel.from_config(cfg, num_keypoints=2)
    assert model.head_strides == {"bodyparts": 4.0}
    losses, _ = overfit_dots(model)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.5 * losses[0], losses
    assert min(losses[-5:]) < 0.1 * losses[0], losses  # observed: ~0.01 × the initial loss
