"""Criterion contract: one output and its target → a scalar loss."""

from __future__ import annotations

import torch
from torch import nn

from lightning_pose_arch.registry import Registry


class BaseCriterion(nn.Module):
    """``forward(output, target, weights) → scalar``.

    ``output`` and ``target`` share a shape; ``weights`` broadcasts to it.
    The loss is the weighted mean: ``sum(w * l) / sum(w)`` over the broadcast
    weights (0 when every weight is 0).
    """

    def __init__(self) -> None:  # explicit, so unknown config keys are reported (nn.Module takes **kwargs)
        super().__init__()

    def elementwise(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def forward(self, output: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        losses = self.elementwise(output, target)
        weights = weights.to(losses.dtype).expand_as(losses)
        return (weights * losses).sum() / weights.sum().clamp_min(1e-12)


CRITERIONS: Registry[BaseCriterion] = Registry("CRITERIONS", BaseCriterion)
