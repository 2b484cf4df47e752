"""Transformer (TokenPose-style) neck: map → tokens → map at the same stride; wiring, errors, a tiny overfit."""

from __future__ import annotations

import copy

import pytest
import torch

from lightning_pose_arch.models.necks import NECKS, Transformer
from lightning_pose_arch.models.necks.transformer import sine_position_embedding
from helpers import overfit_dots
from lightning_pose_arch.models.pose_model import PoseModel
from lightning_pose_arch.registry import ConfigError

SMALL = dict(embed_dim=16, depth=1, num_heads=2)


def heatmap_head(num_deconv_layers: int = 0, **heatmap_config) -> dict:
    return dict(type="HeatmapHead", predictor=dict(type="HeatmapPredictor", location_refinement=False),
                target_generator=dict(type="HeatmapGaussianGenerator", pos_dist_thresh=8, generate_locref=False),
                criterion=dict(type="WeightedMSECriterion"),
                heatmap_config=dict(num_deconv_layers=num_deconv_layers, deconv_channels=16, **heatmap_config))


def transformer_model_cfg(backbone: dict, neck: dict | None = None, **head) -> dict:
    return dict(backbone=backbone, neck=neck or dict(type="Transformer", out_channels=16, **SMALL),
                heads=dict(bodyparts=heatmap_head(**head)))


@pytest.mark.parametrize("patch_size", [1, 2, 4])
@pytest.mark.parametrize("num_keypoint_tokens", [0, 5])
def test_output_keeps_the_input_grid(patch_size, num_keypoint_tokens):
    neck = Transformer(in_channels=12, in_strides=4, num_keypoint_tokens=num_keypoint_tokens, patch_size=patch_size,
                       out_channels=24, **SMALL)
    assert (neck.out_channels, neck.stride, neck.num_keypoint_tokens) == (24, 4, num_keypoint_tokens)
    assert neck(torch.randn(2, 12, 16, 24)).shape == (2, 24, 16, 24)


def test_keypoint_tokens_shape_the_output():
    """Changing a keypoint token changes the output map (through its similarity map and through attention)."""
    torch.manual_seed(0)
    neck = Transformer(in_channels=8, in_strides=8, num_keypoint_tokens=2, **SMALL).eval()
    features = torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        before = neck(features)
        neck.keypoint_tokens[0, 1] += 1.0
        assert not torch.allclose(neck(features), before)


def test_sine_position_embedding_distinguishes_every_position():
    embedding = sine_position_embedding(3, 5, 16, torch.zeros(1))
    assert embedding.shape == (1, 15, 16)
    assert torch.cdist(embedding[0], embedding[0]).add(torch.eye(15)).min() > 0.1


@pytest.mark.parametrize(("backbone", "patch_size"), [
    (dict(type="ResNet", variant="50"), 1),
    (dict(type="HRNet", variant="w18"), 4),
    (dict(type="HRNet", variant="w18", fuse_branches=False), 2),
    (dict(type="CSPNeXt", variant="s"), 1),
], ids=lambda value: "-".join(str(v) for v in value.values()) if isinstance(value, dict) else f"p{value}")
def test_composes_with_every_backbone(backbone, patch_size):
    cfg = transformer_model_cfg(backbone, dict(type="Transformer", out_channels=16, patch_size=patch_size, **SMALL),
                                num_deconv_layers=1)
    model = PoseModel.from_config(cfg, num_keypoints=3)
    assert model.neck.num_keypoint_tokens == 3  # filled from the data's keypoint count
    assert model.neck.in_channels == model.backbone.out_channels
    assert model.neck.stride == model.backbone.stride
    stride = model.backbone.stride
    assert model.head_strides == {"bodyparts": stride / 2}
    model.eval()
    with torch.no_grad():
        heatmap = model(torch.randn(1, 3, 64, 64))["bodyparts"]["heatmap"]
    assert heatmap.shape == (1, 3, 64 * 2 // stride, 64 * 2 // stride)


def test_fill_sizes_fills_keypoint_tokens_and_input_sizes_where_unset():
    cfg = dict(type="Transformer", depth=2)
    before = copy.deepcopy(cfg)
    assert Transformer.fill_sizes(cfg, 480, 4, num_keypoints=17) == dict(
        type="Transformer", depth=2, in_channels=480, in_strides=4, num_keypoint_tokens=17)
    assert cfg == before
    assert Transformer.fill_sizes(dict(cfg, num_keypoint_tokens=0), 480, 4, 17)["num_keypoint_tokens"] == 0
    assert "num_keypoint_tokens" not in Transformer.fill_sizes(cfg, 480, 4, num_keypoints=None)


def test_multi_scale_backbone_is_rejected_with_a_hint():
    cfg = transformer_model_cfg(dict(type="CSPNeXt", variant="s", out_indices=[3, 4]))
    with pytest.raises(ConfigError, match=r"Transformer neck takes one feature map, .*\[256, 512\].*unset the backbone's out_indices"):
        PoseModel.from_config(cfg, num_keypoints=2)


def test_head_channel_mismatch_names_both():
    cfg = transformer_model_cfg(dict(type="CSPNeXt", variant="s"), num_input_channels=256)
    with pytest.raises(ConfigError, match=r"HeatmapHead\) expects 256 input channels, Transformer gives 16"):
        PoseModel.from_config(cfg, num_keypoints=2)


def test_neck_sized_for_another_backbone_is_rejected():
    neck = dict(type="Transformer", in_channels=2048, in_strides=32, out_channels=16, **SMALL)
    with pytest.raises(ConfigError, match=r"Transformer expects input channels 2048 at strides 32, CSPNeXt gives channels 512"):
        PoseModel.from_config(transformer_model_cfg(dict(type="CSPNeXt", variant="s"), neck), num_keypoints=2)


@pytest.mark.parametrize(("cfg", "match"), [
    (dict(embed_dim=18, num_heads=4), "multiple of num_heads"),
    (dict(embed_dim=6, num_heads=3), "multiple of num_heads .* and of 4"),
    (dict(depth=0), "positive"),
    (dict(num_keypoint_tokens=-1), "num_keypoint_tokens"),
    (dict(dropout=1.0), "dropout"),
])
def test_bad_sizes_raise(cfg, match):
    full = dict(type="Transformer", in_channels=8, in_strides=4, num_keypoint_tokens=2, **SMALL)
    with pytest.raises(ValueError, match=match):
        NECKS.build({**full, **cfg})


def test_map_not_divisible_by_patch_size():
    neck = Transformer(in_channels=8, in_strides=32, num_keypoint_tokens=1, patch_size=2, **SMALL)
    with pytest.raises(ValueError, match=r"3×4 is not a multiple of patch_size 2"):
        neck(torch.randn(1, 8, 3, 4))


@pytest.mark.timeout(120)
def test_tiny_overfit_drives_loss_down():
    torch.manual_seed(0)
    neck = dict(type="Transformer", embed_dim=64, depth=2, num_heads=4, out_channels=32)
    model = PoseModel.from_config(transformer_model_cfg(dict(type="CSPNeXt", variant="s"), neck, num_deconv_layers=3),
                                  num_keypoints=2)
    assert model.head_strides == {"bodyparts": 4.0}
    losses, _ = overfit_dots(model)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.5 * losses[0], losses
    assert min(losses[-5:]) < 0.1 * losses[0], losses  # observed: ~0.03 × the initial loss
