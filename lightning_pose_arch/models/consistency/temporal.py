"""Temporal continuity: consecutive frames should not jump."""

from __future__ import annotations

import torch

from lightning_pose_arch.models.consistency.base import CONSISTENCY_LOSSES, BaseConsistencyLoss, hinge_mean


@CONSISTENCY_LOSSES.register
class TemporalLoss(BaseConsistencyLoss):
    """Mean over clips, frame pairs and keypoints of ``max(‖p_{t+1} - p_t‖ - epsilon, 0)`` in pixels.

    Takes ``keypoints [B, T, K, 3]`` (``T >= 2`` consecutive frames) and returns a scalar.
    A pair counts only when the keypoint is confident in both frames; the mean runs over
    counted pairs (0 when none is). lightning-pose's motion model: ``x_t = x_{t-1} + e_t``.

    Args:
        epsilon: Jumps up to this many pixels cost nothing (the animal's normal motion).
        weight, warmup_epochs, start_epoch, confidence_threshold: see :class:`BaseConsistencyLoss`.
    """

    def __init__(self, epsilon: float = 5.0, weight: float = 1.0, warmup_epochs: int = 0, start_epoch: int = 0,
                 confidence_threshold: float = 0.0) -> None:
        super().__init__(weight=weight, warmup_epochs=warmup_epochs, start_epoch=start_epoch,
                         confidence_threshold=confidence_threshold)
        if epsilon < 0:
            raise ValueError(f"TemporalLoss epsilon must be >= 0 pixels, got {epsilon}")
        self.epsilon = float(epsilon)

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        if keypoints.shape[1] < 2:
            raise ValueError(f"TemporalLoss needs clips of at least 2 frames, got keypoints {list(keypoints.shape)}")
        jumps = torch.linalg.vector_norm(keypoints[:, 1:, :, :2] - keypoints[:, :-1, :, :2], dim=-1)  # [B, T-1, K]
        confident = self.confident(keypoints)
        return hinge_mean(jumps, self.epsilon, confident[:, 1:] & confident[:, :-1])
