"""lightning_pose_arch: modular pose estimation on PyTorch Lightning."""

import os

# albumentations checks PyPI for updates at import; pose pipelines must run offline and quietly.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"
