"""Necks: optional layers between backbone and heads (FPN, Transformer: see the open neck issue)."""

from lightning_pose_arch.models.necks.base import NECKS, BaseNeck

__all__ = ["NECKS", "BaseNeck"]
