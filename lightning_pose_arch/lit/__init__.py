"""Lightning layer: PoseLitModule and keypoint metrics."""

from lightning_pose_arch.lit.module import PoseLitModule

__all__ = ["PoseLitModule"]
