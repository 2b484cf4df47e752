"""Pose plausibility: predicted poses should stay near the subspace the labeled poses span.

Following lightning-pose's PCA losses: fit a PCA to the labeled training poses
once, before training; for a predicted pose, the distance (pixels, per
keypoint) between it and its projection onto the kept components is its
implausibility. ``epsilon`` defaults to a percentile of the same distance
over the labeled poses, so poses as plausible as the labels cost nothing.
"""

from __future__ import annotations

import numpy as np
import torch

from lightning_pose_arch.models.consistency.base import CONSISTENCY_LOSSES, BaseConsistencyLoss, hinge_mean
from lightning_pose_arch.registry import ConfigError

PROCRUSTES_ITERATIONS = 5  # generalized Procrustes: the mean shape settles in a few rounds


def fit_subspace(rows: torch.Tensor, components_to_keep: int | float) -> tuple[torch.Tensor, torch.Tensor]:
    """PCA of ``rows [S, D]``: ``(mean [D], components [C, D])``.

    ``components_to_keep``: a count (int), or the fraction of variance to explain (float in (0, 1]).
    """
    mean = rows.mean(dim=0)
    _, singular, vt = torch.linalg.svd(rows - mean, full_matrices=False)
    if isinstance(components_to_keep, float):
        explained = (singular**2).cumsum(0) / (singular**2).sum().clamp_min(1e-12)
        count = int((explained < components_to_keep - 1e-9).sum()) + 1
    else:
        count = components_to_keep
    return mean, vt[: min(count, vt.shape[0])]


def reconstruction_error(rows: torch.Tensor, mean: torch.Tensor, components: torch.Tensor) -> torch.Tensor:
    """Per-point distance ``[S, D/2]`` between ``rows [S, D]`` (x, y pairs) and their projection on ``components``."""
    centered = rows - mean
    residual = centered - centered @ components.T @ components
    return torch.linalg.vector_norm(residual.reshape(rows.shape[0], -1, 2), dim=-1)


def align_poses(poses: torch.Tensor, reference: torch.Tensor | None) -> torch.Tensor:
    """Center ``poses [..., K, 2]`` on their keypoints' mean and, given ``reference [K, 2]`` (centered),
    rotate each onto it (2-D Procrustes, no scaling; differentiable). Distances within a pose are kept."""
    centered = poses - poses.mean(dim=-2, keepdim=True)
    if reference is None:
        return centered
    x, y = centered[..., 0], centered[..., 1]
    cos_part = (x * reference[:, 0] + y * reference[:, 1]).sum(-1)
    sin_part = (x * reference[:, 1] - y * reference[:, 0]).sum(-1)
    norm = torch.sqrt(cos_part**2 + sin_part**2).clamp_min(1e-9)
    cos, sin = (cos_part / norm)[..., None], (sin_part / norm)[..., None]
    return torch.stack([cos * x - sin * y, sin * x + cos * y], dim=-1)


def mean_shape(poses: torch.Tensor) -> torch.Tensor:
    """Generalized-Procrustes mean shape ``[K, 2]`` (centered) of complete poses ``[F, K, 2]``."""
    reference = align_poses(poses[0], None)
    for _ in range(PROCRUSTES_ITERATIONS):
        reference = align_poses(poses, reference).mean(dim=0)
    return reference


class _SubspaceLoss(BaseConsistencyLoss):
    """Shared fit and loss of the PCA losses: subclasses turn poses into rows (``_rows``)."""

    def __init__(self, components_to_keep: int | float, epsilon: float | None, epsilon_percentile: float,
                 weight: float, warmup_epochs: int, start_epoch: int, confidence_threshold: float) -> None:
        super().__init__(weight=weight, warmup_epochs=warmup_epochs, start_epoch=start_epoch,
                         confidence_threshold=confidence_threshold)
        if not 0 <= epsilon_percentile <= 100 or (epsilon is not None and epsilon < 0):
            raise ValueError(f"{type(self).__name__} epsilon must be >= 0 and epsilon_percentile in [0, 100], "
                             f"got epsilon={epsilon}, epsilon_percentile={epsilon_percentile}")
        if isinstance(components_to_keep, float) and not 0 < components_to_keep <= 1 or components_to_keep <= 0:
            raise ValueError(f"{type(self).__name__} components_to_keep must be a count > 0 or a variance "
                             f"fraction in (0, 1], got {components_to_keep}")
        self.components_to_keep = components_to_keep
        self.fixed_epsilon = epsilon
        self.epsilon_percentile = float(epsilon_percentile)
        for name in ("mean", "components", "epsilon"):  # set by fit; refit at every setup, so not checkpointed
            self.register_buffer(name, None, persistent=False)

    def _fit_rows(self, rows: torch.Tensor, where: str) -> None:
        complete = rows[~rows.isnan().any(dim=1)]
        if complete.shape[0] < 2:
            raise ConfigError(f"{type(self).__name__} ({where}) needs at least 2 labeled training frames with "
                              f"every keypoint it uses labeled, found {complete.shape[0]} of {rows.shape[0]}")
        self.mean, self.components = fit_subspace(complete, self.components_to_keep)
        errors = reconstruction_error(complete, self.mean, self.components)
        percentile = torch.quantile(errors.flatten(), self.epsilon_percentile / 100)
        self.epsilon = percentile if self.fixed_epsilon is None else torch.tensor(self.fixed_epsilon)

    def _loss(self, rows: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Hinged reconstruction error of ``rows [S, D]`` over the points where ``mask [S, D/2]`` holds."""
        if self.mean is None:
            raise RuntimeError(f"{type(self).__name__} is used before fit(): fit it to the labeled poses first")
        errors = reconstruction_error(rows, self.mean.to(rows), self.components.to(rows))
        return hinge_mean(errors, self.epsilon.to(rows), mask)


@CONSISTENCY_LOSSES.register
class PosePCALoss(_SubspaceLoss):
    """Distance (pixels) of each keypoint from the pose-PCA reconstruction of its pose, above ``epsilon``.

    Takes ``keypoints [B, T, K, 3]`` and returns a scalar: the mean over poses and confident keypoints
    of ``max(error - epsilon, 0)``. Poses are aligned first (centered; rotated onto the labeled mean
    shape with ``align_rotation``) so the PCA models shape, not where the animal is or which way it faces.
    Labeled frames with a missing keypoint are left out of the fit.

    Args:
        components_to_keep: Kept components: a count, or the fraction of the labeled poses' variance.
        epsilon: Errors up to this many pixels cost nothing; ``None``: ``epsilon_percentile`` of the
            labeled poses' errors.
        epsilon_percentile: Percentile (0-100) of the labeled errors used when ``epsilon`` is ``None``.
        align_rotation: Rotate poses onto the labeled mean shape before the PCA.
        weight, warmup_epochs, start_epoch, confidence_threshold: see :class:`BaseConsistencyLoss`.
    """

    def __init__(self, components_to_keep: int | float = 0.95, epsilon: float | None = None,
                 epsilon_percentile: float = 90.0, align_rotation: bool = True, weight: float = 1.0,
                 warmup_epochs: int = 0, start_epoch: int = 0, confidence_threshold: float = 0.0) -> None:
        super().__init__(components_to_keep, epsilon, epsilon_percentile, weight, warmup_epochs, start_epoch,
                         confidence_threshold)
        self.align_rotation = align_rotation
        self.register_buffer("reference", None, persistent=False)

    def fit(self, labeled_poses: np.ndarray, bodyparts: list[str]) -> None:
        poses = torch.as_tensor(labeled_poses, dtype=torch.float32)
        complete = poses[~poses.isnan().flatten(1).any(dim=1)]
        if self.align_rotation and complete.shape[0] > 0:
            self.reference = mean_shape(complete)
        self._fit_rows(self._rows(poses), "pose PCA")

    def _rows(self, poses: torch.Tensor) -> torch.Tensor:
        reference = None if self.reference is None else self.reference.to(poses)
        return align_poses(poses, reference).flatten(-2).reshape(-1, poses.shape[-2] * 2)

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        return self._loss(self._rows(keypoints[..., :2]), self.confident(keypoints).reshape(-1, keypoints.shape[-2]))


@CONSISTENCY_LOSSES.register
class MultiViewPCALoss(_SubspaceLoss):
    """Views of one bodypart (mirrors in one frame, or synchronized cameras) should agree on one 3-D point.

    Each bodypart seen in V views gives a row ``(x_1, y_1, ..., x_V, y_V)``; under an (affine)
    camera model those rows span 3 dimensions, so the loss is each view's distance from the
    3-component PCA reconstruction, above ``epsilon``. Takes ``keypoints [B, T, K, 3]``, returns
    a scalar (mean over rows and views where every view is confident).

    Args:
        views: One list of bodypart names per view, the same bodypart at the same position in
            each (e.g. ``[[nose_top, paw_top], [nose_side, paw_side]]``).
        components_to_keep: 3 for a 3-D point (fewer for points on a plane).
        epsilon, epsilon_percentile, weight, warmup_epochs, start_epoch, confidence_threshold: see :class:`PosePCALoss`.
    """

    def __init__(self, views: list[list[str]], components_to_keep: int = 3, epsilon: float | None = None,
                 epsilon_percentile: float = 90.0, weight: float = 1.0, warmup_epochs: int = 0, start_epoch: int = 0,
                 confidence_threshold: float = 0.0) -> None:
        super().__init__(components_to_keep, epsilon, epsilon_percentile, weight, warmup_epochs, start_epoch,
                         confidence_threshold)
        if len(views) < 2 or len({len(view) for view in views}) != 1 or not views[0]:
            raise ValueError(f"MultiViewPCALoss views must be >= 2 non-empty lists of equal length, got {views}")
        self.views = [list(view) for view in views]
        self.register_buffer("view_index", None, persistent=False)

    def fit(self, labeled_poses: np.ndarray, bodyparts: list[str]) -> None:
        unknown = sorted({name for view in self.views for name in view} - set(bodyparts))
        if unknown:
            raise ConfigError(f"MultiViewPCALoss views name unknown bodyparts {unknown}; bodyparts are {bodyparts}")
        self.view_index = torch.tensor([[bodyparts.index(name) for name in view] for view in self.views])
        self._fit_rows(self._rows(torch.as_tensor(labeled_poses, dtype=torch.float32)), "multi-view PCA")

    def _rows(self, poses: torch.Tensor) -> torch.Tensor:
        """``[..., K, 2]`` → ``[S·J, 2V]`` rows: J bodyparts per view, V views side by side."""
        per_view = poses[..., self.view_index.to(poses.device), :]  # [..., V, J, 2]
        return per_view.movedim(-3, -2).flatten(-2).reshape(-1, 2 * len(self.views))

    def forward(self, keypoints: torch.Tensor) -> torch.Tensor:
        confident = self.confident(keypoints)[..., self.view_index.to(keypoints.device)].all(dim=-2)  # [B, T, J]
        return self._loss(self._rows(keypoints[..., :2]), confident.reshape(-1, 1).expand(-1, len(self.views)))
