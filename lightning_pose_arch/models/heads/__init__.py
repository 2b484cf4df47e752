"""Heads: features → named outputs; each carries generator, criterion, aggregator and predictor."""

from lightning_pose_arch.models.heads.base import HEADS, BaseHead
from lightning_pose_arch.models.heads.dekr import DEKRHead
from lightning_pose_arch.models.heads.heatmap import HeatmapHead
from lightning_pose_arch.models.heads.paf import PAFHead
from lightning_pose_arch.models.heads.rtmcc import RTMCCHead

__all__ = ["HEADS", "BaseHead", "DEKRHead", "HeatmapHead", "PAFHead", "RTMCCHead"]
