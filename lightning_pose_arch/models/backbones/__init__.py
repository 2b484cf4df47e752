"""Backbones: image → feature map. ``BACKBONES.build(dict(type="HRNet", variant="w32"))``."""

from lightning_pose_arch.models.backbones.base import BACKBONES, BaseBackbone
from lightning_pose_arch.models.backbones.cspnext import CSPNeXt
from lightning_pose_arch.models.backbones.hrnet import HRNet
from lightning_pose_arch.models.backbones.resnet import ResNet

__all__ = ["BACKBONES", "BaseBackbone", "CSPNeXt", "HRNet", "ResNet"]
