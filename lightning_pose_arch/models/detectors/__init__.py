"""Detectors: images → boxes of individuals (``[B, M, 4]`` x, y, w, h), for top-down crops."""

from lightning_pose_arch.models.detectors.base import DETECTORS, BaseDetector, Detections
from lightning_pose_arch.models.detectors.faster_rcnn import FasterRCNN

__all__ = ["DETECTORS", "BaseDetector", "Detections", "FasterRCNN"]
