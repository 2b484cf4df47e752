"""Weighted sum of loss terms."""

from __future__ import annotations

import torch

from lightning_pose_arch.models.aggregators.base import AGGREGATORS, BaseAggregator


@AGGREGATORS.register
class WeightedLossAggregator(BaseAggregator):
    """``sum(weights[name] * losses[name])`` over the loss terms.

    Args:
        weights: Weight per loss name; names not listed weigh 1.0.
    """

    def __init__(self, weights: dict[str, float] | None = None) -> None:
        self.weights = dict(weights or {})

    def __call__(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        unknown = set(self.weights) - set(losses)
        if unknown:
            raise KeyError(f"WeightedLossAggregator weights name {sorted(unknown)}, but the losses are {sorted(losses)}")
        return sum(self.weights.get(name, 1.0) * loss for name, loss in losses.items())
