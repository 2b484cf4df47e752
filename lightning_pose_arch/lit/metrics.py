"""Keypoint metrics as torchmetrics ``Metric``s.

All take ``preds`` and ``target`` ``[B, N, K, 3]`` (x, y, score/visibility)
in the same pixel space; only labeled target keypoints (visibility > 0)
count. Individuals are matched by index (single-animal).
"""

from __future__ import annotations

import torch
from torchmetrics import Metric


def keypoint_distances(preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Euclidean distances ``[M]`` of the M labeled keypoints."""
    labeled = target[..., 2] > 0
    return torch.linalg.vector_norm(preds[..., :2] - target[..., :2], dim=-1)[labeled]


class _DistanceMetric(Metric):
    full_state_update = False
    higher_is_better = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def per_keypoint(self, distances: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        distances = keypoint_distances(preds, target)
        self.total += self.per_keypoint(distances).double().sum()
        self.count += distances.numel()

    def mean(self) -> torch.Tensor:
        return (self.total / self.count.clamp_min(1)).float()


class MeanPixelError(_DistanceMetric):
    """Mean Euclidean distance of labeled keypoints, in pixels (what DeepLabCut reports as "RMSE")."""

    def per_keypoint(self, distances: torch.Tensor) -> torch.Tensor:
        return distances

    def compute(self) -> torch.Tensor:
        return self.mean()


class RootMeanSquareError(_DistanceMetric):
    """True root-mean-square Euclidean distance of labeled keypoints, in pixels."""

    def per_keypoint(self, distances: torch.Tensor) -> torch.Tensor:
        return distances**2

    def compute(self) -> torch.Tensor:
        return self.mean().sqrt()


class PCK(_DistanceMetric):
    """Percentage of correct keypoints: fraction of labeled keypoints within ``threshold`` pixels.

    Args:
        threshold: Distance in pixels under which a keypoint counts as correct.
    """

    higher_is_better = True

    def __init__(self, threshold: float = 5.0) -> None:
        if threshold <= 0:
            raise ValueError(f"PCK threshold must be > 0 pixels, got {threshold}")
        super().__init__()
        self.threshold = threshold

    def per_keypoint(self, distances: torch.Tensor) -> torch.Tensor:
        return (distances <= self.threshold).double()

    def compute(self) -> torch.Tensor:
        return self.mean()
