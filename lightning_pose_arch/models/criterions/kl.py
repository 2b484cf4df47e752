"""KL divergence between predicted and target 1-D distributions (SimCC)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lightning_pose_arch.models.criterions.base import CRITERIONS, BaseCriterion


@CRITERIONS.register
class KLDiscreteLoss(BaseCriterion):
    """Weighted mean over keypoints of ``KL(target ‖ softmax(beta · output))`` along the last axis.

    ``output`` and ``target`` are ``[B, K, bins]`` (logits and label
    distribution); ``weights`` is ``[B, K, 1]`` (or anything that broadcasts
    to ``[B, K, 1]``). Per keypoint the loss is
    ``sum_i t_i · (log t_i - log_softmax(beta · o)_i)`` (0 where ``t_i = 0``);
    the result is ``sum(w · KL) / sum(w)`` (0 when every weight is 0).

    Targets must be distributions (each summing to 1, e.g.
    ``SimCCGenerator(normalize=True)``) unless ``label_softmax``, which turns
    them into ``softmax(label_beta · target)`` first. The defaults are
    RTMPose's (peak-1 Gaussians from ``SimCCGenerator()``, ``beta =
    label_beta = 10``, ``label_softmax``); MMPose's class defaults are
    ``beta=1, label_softmax=False``. Unlike MMPose, which averages the
    KL over bins and sums over the batch (divided by K), this is the KL itself
    averaged over labeled keypoints, so it does not scale with the bin count
    or the batch size.

    Args:
        beta: Temperature multiplying the logits before ``log_softmax``.
        label_softmax: Apply a softmax to the targets.
        label_beta: Temperature of that softmax.
    """

    def __init__(self, beta: float = 10.0, label_softmax: bool = True, label_beta: float = 10.0) -> None:
        super().__init__()
        if beta <= 0 or label_beta <= 0:
            raise ValueError(f"KLDiscreteLoss beta and label_beta must be > 0, got {beta} and {label_beta}")
        self.beta = float(beta)
        self.label_softmax = label_softmax
        self.label_beta = float(label_beta)

    def forward(self, output: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        log_predicted = F.log_softmax(output * self.beta, dim=-1)
        labels = F.softmax(target * self.label_beta, dim=-1) if self.label_softmax else target
        kl = F.kl_div(log_predicted, labels.to(log_predicted.dtype), reduction="none").sum(dim=-1, keepdim=True)
        weights = weights.to(kl.dtype).expand_as(kl)  # [B, K, 1]
        return (weights * kl).sum() / weights.sum().clamp_min(1e-12)
