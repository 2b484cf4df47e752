"""Aggregators: named loss terms → one scalar."""

from lightning_pose_arch.models.aggregators.base import AGGREGATORS, BaseAggregator
from lightning_pose_arch.models.aggregators.weighted import WeightedLossAggregator

__all__ = ["AGGREGATORS", "BaseAggregator", "WeightedLossAggregator"]
