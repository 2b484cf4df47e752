"""Contract tests over every registered member of every registry (new members are picked up by ``names()``)."""

from __future__ import annotations

import inspect

import pytest
import torch

from helpers import SEED_HEAD_CFG
from lightning_pose_arch.models.backbones import BACKBONES, BaseBackbone
from lightning_pose_arch.models.heads import HEADS, BaseHead
from lightning_pose_arch.models.necks import NECKS, BaseNeck
from lightning_pose_arch.reference import ALL_REGISTRIES

MEMBERS = [pytest.param(reg, name, id=f"{reg.name}.{name}") for reg in ALL_REGISTRIES for name in reg.names()]


# Smallest config of each member whose constructor has required arguments. A new member with
# required arguments fails test_member_builds_from_minimal_config until it is added here.
MINIMAL_CONFIGS: dict[str, dict[str, dict]] = {
    "HEADS": {
        "DEKRHead": dict(type="DEKRHead", predictor=dict(type="DEKRPredictor"),
                         target_generator=dict(type="DEKRGenerator", num_keypoints=17), in_channels=16, num_keypoints=17),
        "HeatmapHead": SEED_HEAD_CFG,
        "PAFHead": dict(type="PAFHead", edges=[[k, k + 1] for k in range(16)],
                        predictor=dict(type="PartAffinityFieldPredictor", edges=[[k, k + 1] for k in range(16)]),
                        target_generator=dict(type="PAFGenerator", num_heatmaps=17,
                                              edges=[[k, k + 1] for k in range(16)]),
                        heatmap_config=dict(num_input_channels=16, num_output_channels=17, deconv_channels=16)),
        "RTMCCHead": dict(type="RTMCCHead", predictor=dict(type="SimCCPredictor"),
                          target_generator=dict(type="SimCCGenerator"), criterion=dict(type="KLDiscreteLoss"),
                          in_channels=16, num_keypoints=17, input_size=[64, 64], in_featuremap_size=[2, 2],
                          hidden_dims=16, gau_attention_dims=8),
    },
    "NECKS": {
        "FPN": dict(type="FPN", in_channels=[16, 32, 64], in_strides=[8, 16, 32], out_channels=8),
        "Transformer": dict(type="Transformer", in_channels=16, in_strides=8, num_keypoint_tokens=3,
                            embed_dim=16, depth=1, num_heads=2, patch_size=2, out_channels=8),
    },
    "CONSISTENCY_LOSSES": {"MultiViewPCALoss": dict(type="MultiViewPCALoss", views=[["top_nose"], ["side_nose"]])},
    "DETECTORS": {"FasterRCNN": dict(type="FasterRCNN", variant="mobilenet_v3_large_320_fpn")},  # the smallest
    "TARGET_GENERATORS": {
        "DEKRGenerator": dict(type="DEKRGenerator", num_keypoints=3),
        "HeatmapGaussianGenerator": dict(type="HeatmapGaussianGenerator", num_heatmaps=3),
        "HeatmapPlateauGenerator": dict(type="HeatmapPlateauGenerator", num_heatmaps=3),
        "PAFGenerator": dict(type="PAFGenerator", num_heatmaps=3),
    },
}

# (config, expected out_channels, expected stride): every backbone and every variant.
BACKBONE_VARIANTS = [
    (dict(type="ResNet", variant="50"), 2048, 32),
    (dict(type="ResNet", variant="50", output_stride=16), 2048, 16),
    (dict(type="ResNet", variant="50", output_stride=8), 2048, 8),
    (dict(type="ResNet", variant="101"), 2048, 32),
    (dict(type="ResNet", variant="50_gn", output_stride=16), 2048, 16),
    (dict(type="HRNet", variant="w18"), 18 + 36 + 72 + 144, 4),
    (dict(type="HRNet", variant="w32"), 32 + 64 + 128 + 256, 4),
    (dict(type="HRNet", variant="w48"), 48 + 96 + 192 + 384, 4),
    (dict(type="HRNet", variant="w18", fuse_branches=False), 18, 4),
    (dict(type="HRNet", variant="w32", fuse_branches=False), 32, 4),
    (dict(type="HRNet", variant="w48", fuse_branches=False), 48, 4),
    (dict(type="CSPNeXt", variant="s"), 512, 32),
    (dict(type="CSPNeXt", variant="m"), 768, 32),
    (dict(type="CSPNeXt", variant="x"), 1280, 32),
]
# the small ones: full backward check (the big ones only differ in width/depth)
SMALL_BACKBONES = [
    dict(type="ResNet", variant="50"),
    dict(type="HRNet", variant="w18"),
    dict(type="HRNet", variant="w18", fuse_branches=False),
    dict(type="CSPNeXt", variant="s"),
]


def cfg_id(cfg: dict) -> str:
    return "-".join(str(v) for v in cfg.values())


# --- every member -------------------------------------------------------------------------------


def test_every_registry_is_covered():
    assert [reg.name for reg in ALL_REGISTRIES] == [
        "BACKBONES", "NECKS", "HEADS", "PREDICTORS", "TARGET_GENERATORS", "CRITERIONS", "AGGREGATORS", "DETECTORS",
        "TRACKERS", "CONSISTENCY_LOSSES"]
    assert len(MEMBERS) >= 11


@pytest.mark.parametrize(("reg", "name"), MEMBERS)
def test_member_has_its_own_docstring(reg, name):
    cls = reg.get(name)
    doc = cls.__dict__.get("__doc__")
    assert doc and len(doc.strip()) > 20, f"{reg.name} member {name} needs a docstring saying what it computes"


@pytest.mark.parametrize(("reg", "name"), MEMBERS)
def test_member_is_subclass_with_typed_keyword_arguments(reg, name):
    cls = reg.get(name)
    assert issubclass(cls, reg.base_class)
    params = list(inspect.signature(cls).parameters.values())
    for param in params:
        assert param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL), f"{name} takes *{param.name}"
        assert param.annotation is not param.empty, f"{name}({param.name}) has no type annotation"


@pytest.mark.parametrize(("reg", "name"), MEMBERS)
def test_member_builds_from_minimal_config(reg, name):
    cls = reg.get(name)
    required = [p.name for p in inspect.signature(cls).parameters.values() if p.default is p.empty]
    cfg = MINIMAL_CONFIGS.get(reg.name, {}).get(name)
    if cfg is None:
        assert not required, f"add a minimal config for {reg.name}.{name} (required: {required}) to MINIMAL_CONFIGS"
        cfg = dict(type=name)
    assert isinstance(reg.build(cfg), cls)


@pytest.mark.parametrize(("reg", "name"), MEMBERS)
def test_member_rejects_unknown_key(reg, name):
    cfg = dict(MINIMAL_CONFIGS.get(reg.name, {}).get(name, dict(type=name)))
    cfg["not_an_argument"] = 1
    with pytest.raises(ValueError, match=f"{reg.name}.*not_an_argument"):
        reg.build(cfg)


# --- backbones ----------------------------------------------------------------------------------


def test_backbone_variant_table_covers_every_backbone():
    assert {cfg["type"] for cfg, _, _ in BACKBONE_VARIANTS} == set(BACKBONES.names())


@pytest.mark.parametrize(("cfg", "channels", "stride"), BACKBONE_VARIANTS, ids=[cfg_id(c) for c, _, _ in BACKBONE_VARIANTS])
def test_backbone_output_shape(cfg, channels, stride):
    backbone = BACKBONES.build(cfg)
    assert isinstance(backbone, BaseBackbone)
    assert (backbone.out_channels, backbone.stride) == (channels, stride)
    backbone.eval()
    with torch.no_grad():
        features = backbone(torch.randn(2, 3, 64, 96))
    assert features.shape == (2, channels, 64 // stride, 96 // stride)
    assert torch.isfinite(features).all()


@pytest.mark.parametrize("cfg", SMALL_BACKBONES, ids=[cfg_id(c) for c in SMALL_BACKBONES])
def test_backward_reaches_every_backbone_parameter(cfg):
    backbone = BACKBONES.build(cfg)
    backbone(torch.randn(2, 3, 64, 64)).square().mean().backward()
    missing = [n for n, p in backbone.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"{len(missing)} parameters get no gradient, e.g. {missing[:3]}"


@pytest.mark.parametrize("name", ["ResNet", "HRNet", "CSPNeXt"])
def test_backbone_rejects_unknown_variant(name):
    with pytest.raises(ValueError, match="variant"):
        BACKBONES.build(dict(type=name, variant="w7"))


def test_resnet_50_gn_normalizes_each_sample_alone():
    """GroupNorm, not BatchNorm: a sample's features do not depend on the others in its batch, even in training."""
    backbone = BACKBONES.build(dict(type="ResNet", variant="50_gn")).train()
    norms = [module for module in backbone.modules() if "Norm" in type(module).__name__]
    assert norms and all(isinstance(module, torch.nn.GroupNorm) for module in norms)  # timm's subclass
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(backbone(images)[:1], backbone(images[:1]), rtol=1e-4, atol=1e-5)


def test_resnet_rejects_bad_output_stride():
    with pytest.raises(ValueError, match="output_stride"):
        BACKBONES.build(dict(type="ResNet", output_stride=4))


def test_design_seed_backbone():
    backbone = BACKBONES.build(dict(type="HRNet", variant="w32"))
    assert backbone.stride == 4
    with torch.no_grad():
        assert backbone.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, backbone.out_channels, 8, 8)


# --- heads --------------------------------------------------------------------------------------


def test_design_seed_head():
    head = HEADS.build(SEED_HEAD_CFG)
    assert isinstance(head, BaseHead)
    outputs = head(torch.randn(2, 256, 16, 16))
    assert set(outputs) == {"heatmap", "locref"}
    assert outputs["heatmap"].shape == (2, 17, 32, 32)
    assert outputs["locref"].shape == (2, 34, 32, 32)


@pytest.mark.parametrize("name", HEADS.names())
def test_backward_reaches_every_head_parameter(name):
    """Features of a 64×64 image (8×8 unless the head fixes its feature size), 17 keypoints."""
    head = HEADS.build(MINIMAL_CONFIGS["HEADS"][name])
    feature_size = getattr(head, "in_featuremap_size", (8, 8))
    outputs = head(torch.randn(2, head.in_channels, *feature_size))
    keypoints = torch.rand(2, 1, 17, 3) * 60
    keypoints[..., 2] = 2
    stride = 64 / (feature_size[1] * head.upsampling)  # input pixels per output cell
    loss = head.get_loss(outputs, head.get_targets(keypoints, outputs, stride=stride))["total"]
    loss.backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"
    assert all(torch.isfinite(p.grad).all() for p in head.parameters())


# --- necks --------------------------------------------------------------------------------------


def neck_inputs(neck: BaseNeck, height: int = 64, width: int = 96) -> torch.Tensor | list[torch.Tensor]:
    """Random backbone features for an image of ``height × width``: one map or a list, as the neck takes."""
    if isinstance(neck.in_channels, int):
        return torch.randn(2, neck.in_channels, height // neck.in_strides, width // neck.in_strides)
    return [torch.randn(2, c, height // s, width // s) for c, s in zip(neck.in_channels, neck.in_strides)]


@pytest.mark.parametrize("name", NECKS.names())
def test_neck_output_shape(name):
    neck = NECKS.build(MINIMAL_CONFIGS["NECKS"][name])
    assert isinstance(neck, BaseNeck)
    neck.eval()
    with torch.no_grad():
        features = neck(neck_inputs(neck))
    assert features.shape == (2, neck.out_channels, 64 // neck.stride, 96 // neck.stride)
    assert torch.isfinite(features).all()


@pytest.mark.parametrize("name", NECKS.names())
def test_backward_reaches_every_neck_parameter(name):
    neck = NECKS.build(MINIMAL_CONFIGS["NECKS"][name])
    neck(neck_inputs(neck)).square().mean().backward()
    missing = [n for n, p in neck.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"{len(missing)} parameters get no gradient, e.g. {missing[:3]}"
