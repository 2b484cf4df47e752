"""lightning_pose_arch: modular pose estimation on PyTorch Lightning."""

__version__ = "0.1.0"
