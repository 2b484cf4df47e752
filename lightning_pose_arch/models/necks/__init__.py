"""Necks: optional layers between backbone and heads. ``NECKS.build(dict(type="FPN", ...))``."""

from lightning_pose_arch.models.necks.base import NECKS, BaseNeck
from lightning_pose_arch.models.necks.fpn import FPN
from lightning_pose_arch.models.necks.transformer import Transformer

__all__ = ["FPN", "NECKS", "BaseNeck", "Transformer"]
