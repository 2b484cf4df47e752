"""The ``TRACKERS`` registry and what every tracker shares: detections in, identities out.

Letters: T frames, M detections per frame (the model's slots, best first, or a
top-down model's crops), N individuals of the project, J tracklets, K keypoints.
A keypoint is ``(x, y, score)`` in the frame's pixels; NaN coordinates (or a
score under the tracker's threshold) mean "not found".
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from lightning_pose_arch.registry import Registry


class BaseTracker(ABC):
    """Turns per-frame detections ``[T, M, K, 3]`` into stable identities ``[T, N, K, 3]``.

    Column ``n`` of the output is the same animal in every frame; frames where it
    was not found hold NaN coordinates and score 0 (as DeepLabCut writes them).
    """

    @abstractmethod
    def track(self, detections: np.ndarray, num_individuals: int) -> np.ndarray:
        """``detections [T, M, K, 3]`` → ``[T, N, K, 3]`` with N = ``num_individuals``."""


TRACKERS: Registry[BaseTracker] = Registry("TRACKERS", BaseTracker)


def valid_keypoints(keypoints: np.ndarray, score_threshold: float) -> np.ndarray:
    """``[..., K]`` bool: finite coordinates with score at least ``score_threshold``."""
    return np.isfinite(keypoints[..., :2]).all(axis=-1) & (np.nan_to_num(keypoints[..., 2]) >= score_threshold)


def empty_keypoints(shape: tuple[int, ...]) -> np.ndarray:
    """``[..., K, 3]`` of "not found": NaN x, y and score 0."""
    out = np.full((*shape, 3), np.nan)
    out[..., 2] = 0.0
    return out


def check_detections(detections: np.ndarray, num_individuals: int) -> None:
    """Raise ``ValueError`` unless ``detections`` is ``[T, M, K, 3]`` and ``num_individuals >= 1``."""
    if detections.ndim != 4 or detections.shape[-1] != 3:
        raise ValueError(f"detections must be [frames, detections, keypoints, 3] (x, y, score), "
                         f"got shape {detections.shape}")
    if num_individuals < 1:
        raise ValueError(f"num_individuals must be >= 1, got {num_individuals}")
