"""Pose and multi-view PCA losses on hand-made poses with known reconstruction errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lightning_pose_arch.models.consistency import CONSISTENCY_LOSSES, MultiViewPCALoss, PosePCALoss
from lightning_pose_arch.models.consistency.pca import align_poses, fit_subspace, reconstruction_error
from lightning_pose_arch.registry import ConfigError

BODYPARTS = ["left", "right"]


def segments(half_lengths: list[float], centers: list[tuple[float, float]]) -> np.ndarray:
    """Horizontal two-point poses ``[F, 2, 2]``: their centered shapes span one direction, (-1, 0, 1, 0)."""
    return np.array([[[cx - a, cy], [cx + a, cy]] for a, (cx, cy) in zip(half_lengths, centers)], np.float32)


LABELED = segments([10, 20, 30, 40], [(100, 50), (20, 80), (60, 60), (0, 0)])


def predicted(poses: list[list[list[float]]], scores: float | list = 1.0) -> torch.Tensor:
    """``[1, T, 2, 3]`` keypoints with confidences."""
    xy = torch.tensor(poses)
    score = torch.as_tensor(scores, dtype=torch.float32).expand(xy.shape[:-1])
    return torch.cat([xy, score[..., None]], dim=-1)[None]


def test_fit_subspace_and_reconstruction_error_on_a_line() -> None:
    rows = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    mean, components = fit_subspace(rows, components_to_keep=1)
    assert mean.tolist() == [1.0, 1.0] and components.shape == (1, 2)
    # the point (1, 3) lies √2 from the line y = x
    assert reconstruction_error(torch.tensor([[1.0, 3.0]]), mean, components).item() == pytest.approx(math.sqrt(2))
    assert fit_subspace(rows, components_to_keep=0.99)[1].shape == (1, 2)


@pytest.mark.parametrize("components_to_keep", [1, 0.95])
def test_pose_pca_exact_values_and_data_epsilon(components_to_keep: int | float) -> None:
    loss = PosePCALoss(components_to_keep=components_to_keep, align_rotation=False)
    loss.fit(LABELED, BODYPARTS)
    assert loss.components.shape == (1, 4) and loss.epsilon.item() == pytest.approx(0.0, abs=1e-4)
    # centered (-1, -1, 1, 1): off the horizontal direction by (0, -1, 0, 1) → 1 px per keypoint
    assert loss(predicted([[[0, 0], [2, 2]]])).item() == pytest.approx(1.0, abs=1e-4)


def test_pose_pca_zero_below_epsilon_and_fixed_epsilon() -> None:
    loss = PosePCALoss(components_to_keep=1, epsilon=0.5, align_rotation=False)
    loss.fit(LABELED, BODYPARTS)
    assert loss(predicted([[[0, 0], [2, 2]]])).item() == pytest.approx(0.5, abs=1e-4)
    in_subspace = predicted([[[5, 7], [55, 7]]]).requires_grad_(True)
    value = loss(in_subspace)
    value.backward()
    assert value.item() == 0.0 and in_subspace.grad.abs().sum().item() == 0.0


def test_pose_pca_masks_low_confidence_keypoints() -> None:
    loss = PosePCALoss(components_to_keep=1, align_rotation=False)
    loss.fit(LABELED, BODYPARTS)
    poses = [[[0, 0], [2, 2]], [[0, 0], [2, 6]]]  # errors 1, 1 and 3, 3
    assert loss(predicted(poses)).item() == pytest.approx(2.0, abs=1e-4)
    loss.confidence_threshold = 0.5
    assert loss(predicted(poses, [[0.9, 0.9], [0.9, 0.1]])).item() == pytest.approx(5 / 3, abs=1e-4)  # (1 + 1 + 3) / 3
    assert loss(predicted(poses, [[0.9, 0.9], [0.1, 0.1]])).item() == pytest.approx(1.0, abs=1e-4)


def test_rotation_alignment_makes_a_rigid_shape_plausible_at_any_angle() -> None:
    shape = np.array([[0, 0], [10, 0], [10, 5]], np.float32)
    angles = np.linspace(0, 2 * np.pi, 9)[:-1]
    labeled = np.stack([shape @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]) + [40 * i, 7] for i, a
                        in enumerate(angles)]).astype(np.float32)
    turned = torch.tensor(shape @ np.array([[0.6, 0.8], [-0.8, 0.6]]) + [300, 200], dtype=torch.float32)
    keypoints = torch.cat([turned, torch.ones(3, 1)], dim=-1)[None, None]
    aligned = PosePCALoss(components_to_keep=1, epsilon=0.0)
    aligned.fit(labeled, ["a", "b", "c"])
    unaligned = PosePCALoss(components_to_keep=1, epsilon=0.0, align_rotation=False)
    unaligned.fit(labeled, ["a", "b", "c"])
    assert aligned(keypoints).item() == pytest.approx(0.0, abs=1e-3)
    assert unaligned(keypoints).item() > 1.0


def test_align_poses_keeps_distances_and_passes_gradients() -> None:
    poses = torch.tensor([[[0.0, 0.0], [3.0, 4.0]]], requires_grad=True)
    aligned = align_poses(poses, torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
    assert torch.allclose(aligned, torch.tensor([[[-2.5, 0.0], [2.5, 0.0]]]), atol=1e-5)
    aligned.sum().backward()
    assert torch.isfinite(poses.grad).all()


def test_pose_pca_tolerates_missing_labels_and_refuses_too_few() -> None:
    with_nan = np.concatenate([LABELED, [[[np.nan, np.nan], [5.0, 5.0]]]]).astype(np.float32)
    loss = PosePCALoss(components_to_keep=1, align_rotation=False)
    loss.fit(with_nan, BODYPARTS)
    assert loss(predicted([[[0, 0], [2, 2]]])).item() == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ConfigError, match="at least 2 labeled training frames"):
        PosePCALoss().fit(with_nan[-2:], BODYPARTS)


def mirrored_views(points: np.ndarray) -> np.ndarray:
    """3-D points ``[F, J, 3]`` → poses ``[F, 2J, 2]``: top view (X, Y) then side view (Z, Y)."""
    return np.concatenate([points[..., [0, 1]], points[..., [2, 1]]], axis=1).astype(np.float32)


MULTIVIEW_PARTS = ["nose_top", "paw_top", "nose_side", "paw_side"]
VIEWS = [["nose_top", "paw_top"], ["nose_side", "paw_side"]]


def test_multiview_pca_exact_values() -> None:
    rng = np.random.default_rng(0)
    loss = CONSISTENCY_LOSSES.build({"type": "MultiViewPCALoss", "views": VIEWS})
    loss.fit(mirrored_views(rng.uniform(0, 100, (10, 2, 3))), MULTIVIEW_PARTS)
    assert loss.epsilon.item() == pytest.approx(0.0, abs=1e-3)
    consistent = mirrored_views(np.array([[[10, 20, 30], [40, 50, 60]]]))
    keypoints = torch.cat([torch.tensor(consistent), torch.ones(1, 4, 1)], dim=-1)[None]
    assert loss(keypoints).item() == pytest.approx(0.0, abs=1e-3)
    keypoints[0, 0, 2, 1] += 4  # the side view puts the nose 4 px lower: each view is 2 px off, the paw 0
    assert loss(keypoints).item() == pytest.approx(1.0, abs=1e-3)
    loss.confidence_threshold = 0.5
    keypoints[0, 0, 0, 2] = 0.1  # nose unsure in the top view: only the paw counts
    assert loss(keypoints).item() == pytest.approx(0.0, abs=1e-3)


def test_multiview_pca_checks_views() -> None:
    with pytest.raises(ValueError, match="equal length"):
        MultiViewPCALoss(views=[["a"], ["b", "c"]])
    with pytest.raises(ConfigError, match="unknown bodyparts \\['nose_back'\\]"):
        MultiViewPCALoss(views=[["nose_top"], ["nose_back"]]).fit(np.zeros((4, 4, 2)), MULTIVIEW_PARTS)
