"""RTMCCHead: SimCC output shapes, sizes filled from features and data, checks, init, gradients."""

from __future__ import annotations

import copy

import pytest
import torch

from lightning_pose_arch.models.heads import HEADS, RTMCCHead
from lightning_pose_arch.models.heads.gau import GatedAttentionUnit, ScaleNorm
from lightning_pose_arch.models.pose_model import PoseModel
from lightning_pose_arch.registry import ConfigError


def head_cfg(num_kpts: int = 3, input_size=(64, 96), featuremap=(2, 3), **extra) -> dict:
    return dict(
        type="RTMCCHead",
        predictor=dict(type="SimCCPredictor", split_ratio=extra.get("simcc_split_ratio", 2.0)),
        target_generator=dict(type="SimCCGenerator", split_ratio=extra.get("simcc_split_ratio", 2.0)),
        criterion=dict(type="KLDiscreteLoss"),
        in_channels=8, num_keypoints=num_kpts, input_size=list(input_size), in_featuremap_size=list(featuremap),
        hidden_dims=16, gau_attention_dims=8, **extra,
    )


@pytest.mark.parametrize("ratio", [1.0, 2.0, 3.0])
def test_output_shapes_follow_input_size_and_split_ratio(ratio):
    head = HEADS.build(head_cfg(simcc_split_ratio=ratio))
    outputs = head(torch.randn(2, 8, 2, 3))
    assert outputs["x"].shape == (2, 3, int(96 * ratio))
    assert outputs["y"].shape == (2, 3, int(64 * ratio))
    assert head.upsampling == pytest.approx(32 * ratio)  # head stride = feature stride 32 / upsampling = 1/r


def test_backward_reaches_every_parameter_with_dropout_and_drop_path():
    head = HEADS.build(head_cfg(gau_dropout=0.1, gau_drop_path=0.1)).train()
    outputs = head(torch.randn(2, 8, 2, 3))
    keypoints = torch.rand(2, 1, 3, 3) * 60
    keypoints[..., 2] = 2
    head.get_loss(outputs, head.get_targets(keypoints, outputs, stride=0.5))["total"].backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"
    assert all(torch.isfinite(p.grad).all() for p in head.parameters())


def test_init_is_rtmpose_like_and_outputs_start_near_zero():
    torch.manual_seed(0)
    head = HEADS.build(head_cfg())
    assert head.cls_x.weight.std().item() == pytest.approx(0.01, rel=0.2)
    assert head.final_layer.weight.std().item() == pytest.approx(0.001, rel=0.2)
    assert not head.final_layer.bias.any()
    outputs = head(torch.randn(2, 8, 2, 3))
    assert outputs["x"].abs().max().item() < 1.0  # near-uniform softmax at the start


def test_fill_sizes_fills_only_unset_and_does_not_mutate():
    cfg = head_cfg()
    for key in ("in_channels", "num_keypoints", "input_size", "in_featuremap_size"):
        del cfg[key]
    del cfg["predictor"]["split_ratio"], cfg["target_generator"]["split_ratio"]
    cfg["simcc_split_ratio"] = 3.0
    before = copy.deepcopy(cfg)
    filled = RTMCCHead.fill_sizes(cfg, in_channels=32, num_keypoints=5, image_size=(128, 160), in_stride=32)
    assert cfg == before
    assert (filled["in_channels"], filled["num_keypoints"]) == (32, 5)
    assert filled["input_size"] == [128, 160] and filled["in_featuremap_size"] == [4, 5]
    head = HEADS.build(filled)  # the parts left unset take the head's split ratio
    assert head.predictor.split_ratio == head.target_generator.split_ratio == 3.0 and head.num_bins == (384, 480)
    explicit = RTMCCHead.fill_sizes(head_cfg(), in_channels=32, num_keypoints=5, image_size=(128, 160), in_stride=32)
    assert (explicit["in_channels"], explicit["input_size"], explicit["in_featuremap_size"]) == (8, [64, 96], [2, 3])


def test_fill_sizes_without_an_input_size_says_where_to_set_it():
    cfg = head_cfg()
    del cfg["input_size"]
    with pytest.raises(ConfigError, match="input_size"):
        RTMCCHead.fill_sizes(cfg, in_channels=8, num_keypoints=3)


def test_split_ratios_must_agree():
    cfg = head_cfg()
    cfg["predictor"]["split_ratio"] = 3.0
    with pytest.raises(ValueError, match="SimCCPredictor.split_ratio"):
        HEADS.build(cfg)


@pytest.mark.parametrize(("key", "value", "match"), [
    ("final_layer_kernel_size", 4, "odd"), ("input_size", [64], "height, width"),
    ("hidden_dims", 0, "positive"), ("simcc_split_ratio", 0.3, "whole number"),
])
def test_invalid_arguments_raise(key, value, match):
    cfg = head_cfg()
    cfg[key] = value
    if key == "simcc_split_ratio":
        cfg["predictor"]["split_ratio"] = cfg["target_generator"]["split_ratio"] = value
    with pytest.raises(ValueError, match=match):
        HEADS.build(cfg)


def test_wrong_feature_size_names_both_sizes():
    head = HEADS.build(head_cfg())
    with pytest.raises(ValueError, match="2×3 features"):
        head(torch.randn(1, 8, 4, 4))


def test_gau_keeps_token_shape_and_scale_norm_normalizes():
    gau = GatedAttentionUnit(16, attention_dims=8)
    tokens = torch.randn(2, 5, 16)
    assert gau(tokens).shape == (2, 5, 16)
    normalized = ScaleNorm(16)(tokens * 7.0)
    torch.testing.assert_close(normalized.square().mean(-1), torch.ones(2, 5))


def test_pose_model_fills_input_and_feature_size_from_image_size():
    cfg = dict(backbone=dict(type="CSPNeXt", variant="s"),
               heads=dict(bodypart=dict(type="RTMCCHead", predictor=dict(type="SimCCPredictor"),
                                        target_generator=dict(type="SimCCGenerator"),
                                        criterion=dict(type="KLDiscreteLoss"), hidden_dims=16, gau_attention_dims=8)))
    model = PoseModel.from_config(cfg, num_keypoints=2, image_size=(64, 96))
    head = model.heads["bodypart"]
    assert (head.in_channels, head.input_size, head.in_featuremap_size) == (512, (64, 96), (2, 3))
    assert model.head_strides == {"bodypart": 0.5}
    outputs = model(torch.randn(1, 3, 64, 96))["bodypart"]
    assert outputs["x"].shape == (1, 2, 192) and outputs["y"].shape == (1, 2, 128)
    with pytest.raises(ConfigError, match="input_size"):
        PoseModel.from_config(cfg, num_keypoints=2)
