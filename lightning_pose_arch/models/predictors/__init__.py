"""Predictors: head outputs → keypoints ``[B, N, K, 3]`` in input-image pixels."""

from lightning_pose_arch.models.predictors.base import PREDICTORS, BasePredictor
from lightning_pose_arch.models.predictors.dekr import DEKRPredictor
from lightning_pose_arch.models.predictors.heatmap import HeatmapPredictor
from lightning_pose_arch.models.predictors.paf import PartAffinityFieldPredictor
from lightning_pose_arch.models.predictors.simcc import SimCCPredictor

__all__ = ["PREDICTORS", "BasePredictor", "DEKRPredictor", "HeatmapPredictor", "PartAffinityFieldPredictor",
           "SimCCPredictor"]
