"""Typed batches and outputs at the seams between data, model and predictors.

Letters: B batch, N individuals (max per frame), K keypoints, H×W input
image, h×w output grid.
"""

from __future__ import annotations

from typing_extensions import NotRequired, TypedDict  # typing has NotRequired from 3.11

import torch

HeadOutputs = dict[str, torch.Tensor]
"""One head's raw outputs, e.g. ``{"heatmap": [B,K,h,w], "locref": [B,2K,h,w]}``."""

ModelOutputs = dict[str, HeadOutputs]
"""``{head_name: HeadOutputs}``."""

HeadTargets = dict[str, dict[str, torch.Tensor]]
"""Per output name: ``{"target": Tensor, "weights": Tensor}`` (weights broadcast to target)."""


class PoseSample(TypedDict):
    """One annotated image after transforms.

    ``image`` [3, H, W] uint8 (normalized on the model's device); ``keypoints`` [N, K, 3] (x, y,
    visibility 0/1/2) in input-image pixels; ``original_size`` [2] (width,
    height) of the file on disk; ``image_path`` relative to the project;
    ``unique_keypoints`` [1, U, 3] when the data has unique bodyparts.
    """

    image: torch.Tensor
    keypoints: torch.Tensor
    original_size: torch.Tensor
    image_path: str
    unique_keypoints: NotRequired[torch.Tensor]


class PoseBatch(TypedDict):
    """A collated batch.

    ``image`` [B, 3, H, W] uint8; ``keypoints`` [B, N, K, 3]; ``original_size``
    [B, 2] (width, height); ``image_path`` list of B strings;
    ``unique_keypoints`` [B, 1, U, 3] when the data has unique bodyparts.
    """

    image: torch.Tensor
    keypoints: torch.Tensor
    original_size: torch.Tensor
    image_path: list[str]
    unique_keypoints: NotRequired[torch.Tensor]


class Prediction(TypedDict):
    """``keypoints`` [B, N, K, 3]: x, y, score in input-image pixels."""

    keypoints: torch.Tensor


class TopDownSample(PoseSample):
    """One individual cropped from an annotated image (see :mod:`lightning_pose_arch.data.topdown`).

    ``image`` [3, H, W] is the crop; ``keypoints`` [1, K, 3] are in crop
    pixels; ``crop_matrix`` [2, 3] maps file pixels to crop pixels (before
    train-time augmentation); ``bboxes`` [1, 4] (x, y, w, h) is the cropped box
    in file pixels; ``individual`` the index of the individual in the frame.
    """

    crop_matrix: torch.Tensor
    bboxes: torch.Tensor
    individual: int
