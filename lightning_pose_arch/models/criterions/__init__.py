"""Criterions: (output, target, weights) → scalar loss."""

from lightning_pose_arch.models.criterions.base import CRITERIONS, BaseCriterion
from lightning_pose_arch.models.criterions.kl import KLDiscreteLoss
from lightning_pose_arch.models.criterions.weighted import (
    WeightedBCECriterion,
    WeightedHuberCriterion,
    WeightedMSECriterion,
)

__all__ = [
    "CRITERIONS", "BaseCriterion", "KLDiscreteLoss", "WeightedBCECriterion", "WeightedHuberCriterion",
    "WeightedMSECriterion",
]
