"""Heads: features → named outputs; each carries generator, criterion, aggregator and predictor."""

from lightning_pose_arch.models.heads.base import HEADS, BaseHead
from lightning_pose_arch.models.heads.heatmap import HeatmapHead

__all__ = ["HEADS", "BaseHead", "HeatmapHead"]
