"""Consistency-loss contract: losses on keypoints predicted for unlabeled video clips.

A consistency loss needs no labels: it scores how plausible predicted
keypoints are (smooth in time, close to a low-dimensional pose space, agreeing
across views). Every member takes ``keypoints [B, T, K, 3]`` (x, y,
confidence) in the video's pixels, ``T`` consecutive frames per clip, and
returns a scalar. Losses that learn something from the labeled poses (a PCA)
do it in :meth:`BaseConsistencyLoss.fit`, once, before training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lightning_pose_arch.registry import Registry


class BaseConsistencyLoss(nn.Module):
    """``forward(keypoints [B, T, K, 3]) → scalar``; weighted by :meth:`weight_at` in the total loss.

    Args:
        weight: Weight of the loss in the total once warmed up.
        warmup_epochs: The weight grows linearly from 0 (epoch ``start_epoch``) to ``weight`` (epoch
            ``start_epoch + warmup_epochs``), so the labeled loss shapes the predictions before they are
            asked to be consistent.
        start_epoch: The weight is 0 before this epoch (0-based): a supervised warm start. While every
            loss's weight is 0, :class:`~lightning_pose_arch.lit.semisupervised.ConsistencyTerms` skips the
            clips' forward pass, so those epochs cost what supervised ones do (plus decoding the clips).
        confidence_threshold: Keypoints whose confidence (the head's predictor score) is below it
            are left out of the loss (an occluded or absent part may jump or leave the pose space).
    """

    def __init__(self, weight: float = 1.0, warmup_epochs: int = 0, start_epoch: int = 0,
                 confidence_threshold: float = 0.0) -> None:
        super().__init__()
        if weight < 0 or warmup_epochs < 0 or start_epoch < 0:
            raise ValueError(f"{type(self).__name__} weight, warmup_epochs and start_epoch must be >= 0, "
                             f"got weight={weight}, warmup_epochs={warmup_epochs}, start_epoch={start_epoch}")
        self.weight = float(weight)
        self.warmup_epochs = int(warmup_epochs)
        self.start_epoch = int(start_epoch)
        self.confidence_threshold = float(confidence_threshold)

    def weight_at(self, epoch: int) -> float:
        """The loss's weight at ``epoch`` (0-based): 0 before ``start_epoch``, a linear warm-up, then ``weight``."""
        if epoch < self.start_epoch:
            return 0.0
        if self.warmup_epochs == 0:
            return self.weight
        return self.weight * min(1.0, (epoch - self.start_epoch) / self.warmup_epochs)

    def fit(self, labeled_poses: np.ndarray, bodyparts: list[str]) -> None:
        """Learn from the labeled training poses ``[F, K, 2]`` (image pixels, NaN = unlabeled); default: nothing."""

    def confident(self, keypoints: torch.Tensor) -> torch.Tensor:
        """``[B, T, K]`` bool: the keypoint's confidence reaches ``confidence_threshold``."""
        return keypoints[..., 2] >= self.confidence_threshold


def hinge_mean(values: torch.Tensor, epsilon: float | torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``max(values - epsilon, 0)`` over the entries where ``mask`` is true (0 when none is).

    ``values``, ``mask`` share a shape; ``epsilon`` broadcasts to it. Values within ``epsilon`` cost
    nothing and their gradient is zero; above it the cost grows linearly, in pixels.
    """
    excess = (values - epsilon).clamp_min(0.0) * mask
    return excess.sum() / mask.sum().clamp_min(1)


CONSISTENCY_LOSSES: Registry[BaseConsistencyLoss] = Registry("CONSISTENCY_LOSSES", BaseConsistencyLoss)
