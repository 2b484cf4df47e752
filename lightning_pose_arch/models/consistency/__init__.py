"""Consistency losses: label-free losses on keypoints predicted for unlabeled video."""

from lightning_pose_arch.models.consistency.base import CONSISTENCY_LOSSES, BaseConsistencyLoss
from lightning_pose_arch.models.consistency.pca import MultiViewPCALoss, PosePCALoss
from lightning_pose_arch.models.consistency.temporal import TemporalLoss

__all__ = ["CONSISTENCY_LOSSES", "BaseConsistencyLoss", "MultiViewPCALoss", "PosePCALoss", "TemporalLoss"]
