"""Keypoint metrics as torchmetrics ``Metric``s.

All take ``preds`` and ``target`` ``[B, N, K, 3]`` (x, y, score/visibility)
in the same pixel space; only labeled target keypoints (visibility > 0)
count. Individuals are matched by index (single-animal), except in the
``Matched*`` metrics, which first pair them optimally (multi-animal).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
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
        """Mean over the measured keypoints; NaN when none was measured (e.g. nothing detected), never a fake 0."""
        return torch.where(self.count > 0, self.total / self.count.clamp_min(1), float("nan")).float()


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


def missing_keypoints(preds: torch.Tensor) -> torch.Tensor:
    """Predicted keypoints ``[B, N, K]`` (bool) that are not there.

    A keypoint is missing when all of x, y, score are 0 (how the bottom-up
    predictors leave keypoints they did not find, and empty slots) or when x
    or y is not finite (top-down inference: NaN for undetected individuals).
    """
    return (preds == 0).all(dim=-1) | ~torch.isfinite(preds[..., :2]).all(dim=-1)


NO_SHARED_KEYPOINT_COST = 1e6
"""Matching cost of a (target, prediction) pair with no keypoint labeled in one and found in the other."""


def match_individuals(preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The predicted individual assigned to each target individual, ``[B, Nt]`` long (-1: none).

    Per image, a minimum-cost one-to-one assignment (``linear_sum_assignment``)
    where the cost of (target t, prediction p) is the mean distance over the
    keypoints labeled in t and found in p (:func:`missing_keypoints`; a pair
    without any costs ``NO_SHARED_KEYPOINT_COST``). Empty prediction slots and
    targets without a labeled keypoint take no part; with more targets than
    predictions, some targets stay at -1. There is no distance limit: while
    predictions are left, every target gets one, so a false positive paired
    with a missed individual adds its (large) error.

    Args:
        preds: ``[B, Np, K, 3]`` x, y, score.
        target: ``[B, Nt, K, 3]`` x, y, visibility.
    """
    labeled = target[..., 2] > 0  # [B, Nt, K]
    found = ~missing_keypoints(preds)  # [B, Np, K]
    shared = labeled[:, :, None] & found[:, None]  # [B, Nt, Np, K]
    distances = torch.linalg.vector_norm(target[:, :, None, :, :2] - preds[:, None, :, :, :2], dim=-1)
    distances = torch.where(shared, distances, 0.0)  # unlabeled or missing coordinates may be NaN
    count = shared.sum(dim=-1)
    cost = torch.where(count > 0, distances.sum(dim=-1) / count.clamp_min(1), NO_SHARED_KEYPOINT_COST)
    cost = cost.detach().cpu().numpy()
    targets_valid = labeled.any(dim=-1).cpu().numpy()
    preds_valid = found.any(dim=-1).cpu().numpy()
    index = np.full(labeled.shape[:2], -1)
    for b in range(len(cost)):  # the assignment itself is one scipy call per image
        rows, cols = np.flatnonzero(targets_valid[b]), np.flatnonzero(preds_valid[b])
        assigned_rows, assigned_cols = linear_sum_assignment(cost[b][np.ix_(rows, cols)])
        index[b, rows[assigned_rows]] = cols[assigned_cols]
    return torch.from_numpy(index).to(preds.device)


def align_individuals(
    preds: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Predictions reordered onto the targets by :func:`match_individuals`.

    Returns:
        ``(aligned [B, Nt, K, 3], measured [B, Nt, K, 3], missed [B, Nt, K], unmatched [B, Nt])``:
        the prediction matched to each target individual; the target with visibility 0 wherever
        there is nothing to measure (its individual is unmatched, or the matched prediction
        misses the keypoint); the labeled target keypoints without a prediction; and the
        labeled target individuals left without a prediction (both bool).
    """
    index = match_individuals(preds, target)
    matched = index >= 0
    gather_index = index.clamp_min(0)[..., None, None].expand(-1, -1, *preds.shape[2:])
    aligned = preds.gather(1, gather_index)
    labeled = target[..., 2] > 0
    missed = labeled & (~matched[..., None] | missing_keypoints(aligned))
    visibility = target[..., 2].masked_fill(missed, 0.0)
    measured = torch.cat([target[..., :2], visibility[..., None]], dim=-1)
    return aligned, measured, missed, ~matched & labeled.any(dim=-1)


class _MatchedDistanceMetric(_DistanceMetric):
    """Multi-animal variant: individuals are paired by :func:`align_individuals` before measuring.

    Labeled keypoints without a prediction (their individual unmatched, or the
    matched individual missing them) are excluded from the mean and counted:
    ``num_unmatched`` individuals, ``num_missed`` keypoints (both included).
    """

    def __init__(self) -> None:
        super().__init__()
        self.add_state("num_unmatched", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("num_missed", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        aligned, measured, missed, unmatched = align_individuals(preds, target)
        self.num_unmatched += unmatched.sum()
        self.num_missed += missed.sum()
        super().update(aligned, measured)


class MatchedRootMeanSquareError(_MatchedDistanceMetric, RootMeanSquareError):
    """Root-mean-square distance of labeled keypoints, in pixels, after optimally pairing individuals.

    ``update(preds [B, Np, K, 3], target [B, Nt, K, 3])``; see :func:`match_individuals`.
    Labeled keypoints without a prediction are excluded (see :class:`MatchedMissRate`).
    """


class MatchedMeanPixelError(_MatchedDistanceMetric, MeanPixelError):
    """Mean Euclidean distance of labeled keypoints, in pixels, after optimally pairing individuals.

    ``update(preds [B, Np, K, 3], target [B, Nt, K, 3])``; see :func:`match_individuals`.
    Labeled keypoints without a prediction are excluded (see :class:`MatchedMissRate`).
    """


class MatchedMissRate(Metric):
    """Fraction of labeled keypoints without a prediction, after optimally pairing individuals.

    ``update(preds [B, Np, K, 3], target [B, Nt, K, 3])``; a labeled keypoint is
    missed when its individual is left unmatched or the matched prediction
    misses it (:func:`missing_keypoints`). The matched pixel errors leave these
    keypoints out, so read them together with this rate. NaN before any labeled keypoint.
    """

    full_state_update = False
    higher_is_better = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("missed", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("labeled", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        self.missed += align_individuals(preds, target)[2].sum()
        self.labeled += (target[..., 2] > 0).sum()

    def compute(self) -> torch.Tensor:
        return torch.where(self.labeled > 0, self.missed / self.labeled.clamp_min(1), float("nan")).float()
