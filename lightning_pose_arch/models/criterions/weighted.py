"""Weighted elementwise losses: MSE, Huber and binary cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lightning_pose_arch.models.criterions.base import CRITERIONS, BaseCriterion


@CRITERIONS.register
class WeightedMSECriterion(BaseCriterion):
    """Weighted mean squared error: ``sum(w (o - t)²) / sum(w)``; any shape."""

    def elementwise(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (output - target) ** 2


@CRITERIONS.register
class WeightedHuberCriterion(BaseCriterion):
    """Weighted Huber (smooth L1 scaled by ``delta``) loss; any shape.

    Args:
        delta: Where the loss turns from quadratic to linear.
    """

    def __init__(self, delta: float = 1.0) -> None:
        super().__init__()
        if delta <= 0:
            raise ValueError(f"WeightedHuberCriterion delta must be > 0, got {delta}")
        self.delta = delta

    def elementwise(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.huber_loss(output, target, reduction="none", delta=self.delta)


@CRITERIONS.register
class WeightedBCECriterion(BaseCriterion):
    """Weighted binary cross-entropy on logits (targets in [0, 1]); any shape.

    Pair it with ``HeatmapPredictor(apply_sigmoid=True)``: the head outputs logits.
    """

    def elementwise(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(output, target, reduction="none")
