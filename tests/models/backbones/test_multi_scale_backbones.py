"""Multi-scale backbones (``out_indices``): a list of stage maps with their channels and strides."""

from __future__ import annotations

import pytest
import torch

from lightning_pose_arch.models.backbones import BACKBONES

# (config, feature_channels, feature_strides)
MULTI_SCALE = [
    (dict(type="ResNet", variant="50", out_indices=[1, 2, 3, 4]), [256, 512, 1024, 2048], [4, 8, 16, 32]),
    (dict(type="ResNet", variant="50", output_stride=16, out_indices=[2, 3, 4]), [512, 1024, 2048], [8, 16, 16]),
    (dict(type="HRNet", variant="w18", fuse_branches=False, out_indices=[1, 2, 3, 4]), [18, 36, 72, 144], [4, 8, 16, 32]),
    (dict(type="HRNet", variant="w18", fuse_branches=False, out_indices=[1, 2]), [18, 36], [4, 8]),
    (dict(type="CSPNeXt", variant="s", out_indices=[0, 2, 4]), [32, 128, 512], [2, 8, 32]),
]


def cfg_id(cfg: dict) -> str:
    return "-".join(str(v) for v in cfg.values())


@pytest.mark.parametrize(("cfg", "channels", "strides"), MULTI_SCALE, ids=[cfg_id(c) for c, _, _ in MULTI_SCALE])
def test_multi_scale_returns_one_map_per_index(cfg, channels, strides):
    backbone = BACKBONES.build(cfg)
    assert backbone.multi_scale
    assert (backbone.feature_channels, backbone.feature_strides) == (channels, strides)
    assert (backbone.out_channels, backbone.stride) == (channels[-1], strides[-1])  # the coarsest map
    backbone.eval()
    with torch.no_grad():
        features = backbone(torch.randn(1, 3, 64, 96))
    assert isinstance(features, list)
    assert [tuple(f.shape) for f in features] == [(1, c, 64 // s, 96 // s) for c, s in zip(channels, strides)]


@pytest.mark.parametrize("cfg", [dict(type="ResNet"), dict(type="HRNet", variant="w18"), dict(type="CSPNeXt", variant="s"),
                                 dict(type="HRNet", variant="w18", fuse_branches=False)], ids=cfg_id)
def test_single_map_by_default(cfg):
    backbone = BACKBONES.build(cfg)
    assert not backbone.multi_scale
    assert (backbone.feature_channels, backbone.feature_strides) == ([backbone.out_channels], [backbone.stride])


def test_backward_reaches_every_hrnet_multi_scale_parameter():
    backbone = BACKBONES.build(dict(type="HRNet", variant="w18", fuse_branches=False, out_indices=[1, 2, 3, 4]))
    sum(f.square().mean() for f in backbone(torch.randn(2, 3, 64, 64))).backward()
    missing = [n for n, p in backbone.named_parameters() if p.grad is None]
    assert not missing, missing[:3]


@pytest.mark.parametrize("out_indices", [[], [3, 2], [2, 2], [5], [-1]])
@pytest.mark.parametrize("name", ["ResNet", "CSPNeXt"])
def test_bad_out_indices(name, out_indices):
    with pytest.raises(ValueError, match=f"{name} out_indices"):
        BACKBONES.build(dict(type=name, variant="s" if name == "CSPNeXt" else "50", out_indices=out_indices))


def test_hrnet_out_indices_are_branches_and_need_unfused():
    with pytest.raises(ValueError, match=r"HRNet out_indices .*\[1, 2, 3, 4\]"):
        BACKBONES.build(dict(type="HRNet", variant="w18", fuse_branches=False, out_indices=[0, 1]))
    with pytest.raises(ValueError, match="fuse_branches: false"):
        BACKBONES.build(dict(type="HRNet", variant="w18", out_indices=[1, 2, 3, 4]))
