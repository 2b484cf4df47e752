"""Native-resolution mode: train on fixed-size crops at the frames' own scale, evaluate on whole frames.

Resizing every frame to the network input throws away the detail that
sub-pixel accuracy needs on large frames and small animals. In this mode (as
DeepLabCut's ``crop_sampling``) a training sample is a window of the network
input size cut from the frame without rescaling, centered near a labeled
keypoint or anywhere in the frame; the usual augmentation (zoom ±scale,
rotation, flip) then acts about the window's center, which gives the scale
jitter. Validation, test, prediction and ``lpa analyze`` run the fully
convolutional model on the whole frame, padded right and bottom to a
multiple of the network stride, so predictions are file pixels as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lightning_pose_arch.models.coordinates import affine


@dataclass(frozen=True)
class NativeResolutionConfig:
    """Where training windows are cut, and how whole frames are padded.

    Attributes:
        keypoint_p: Probability that a window is centered on a labeled keypoint (one drawn at random);
            otherwise its center is drawn uniformly over the frame.
        max_shift: A keypoint-centered window moves by up to this fraction of its size in x and y, so
            keypoints are not always at the center.
        pad_multiple: Whole frames are padded right and bottom to a multiple of this (the network's
            largest stride).
    """

    keypoint_p: float = 0.75
    max_shift: float = 0.25
    pad_multiple: int = 32

    def __post_init__(self) -> None:
        if not 0.0 <= self.keypoint_p <= 1.0 or not 0.0 <= self.max_shift <= 0.5 or self.pad_multiple < 1:
            raise ValueError(f"native_resolution needs keypoint_p in [0, 1], max_shift in [0, 0.5] and "
                             f"pad_multiple >= 1, got {self}")

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """(H, W) rounded up to multiples of ``pad_multiple``."""
        return (math.ceil(height / self.pad_multiple) * self.pad_multiple,
                math.ceil(width / self.pad_multiple) * self.pad_multiple)

    def sample_window(self, keypoints: np.ndarray, frame_size: Sequence[int], window_size: Sequence[int],
                      rng: np.random.Generator) -> torch.Tensor:
        """``[2, 3]`` file → window pixels: a whole-pixel translation (no resampling) of a ``window_size`` (H, W)
        window in a ``frame_size`` (H, W) frame, given the frame's keypoints ``[N, K, 3]`` (file pixels)."""
        (frame_h, frame_w), (window_h, window_w) = frame_size, window_size
        labeled = keypoints.reshape(-1, 3)
        labeled = labeled[labeled[:, 2] > 0, :2]
        if len(labeled) and rng.random() < self.keypoint_p:
            center = labeled[rng.integers(len(labeled))] + rng.uniform(-self.max_shift, self.max_shift, 2) * (
                window_w, window_h)
        else:
            center = rng.uniform((0.0, 0.0), (frame_w - 1.0, frame_h - 1.0))
        left = int(round(center[0] - (window_w - 1) / 2))
        top = int(round(center[1] - (window_h - 1) / 2))
        return affine(1.0, 1.0, -float(left), -float(top))
