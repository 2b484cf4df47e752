"""Detector contract: images → one box per individual, for top-down pose estimation."""

from __future__ import annotations

from typing import TypedDict

import torch
from torch import nn

from lightning_pose_arch.registry import Registry


class Detections(TypedDict):
    """``bboxes`` [B, M, 4] (x, y, w, h in input pixels) and ``scores`` [B, M], best first.

    M is the detector's ``max_detections``; unused slots hold zero boxes with score 0.
    """

    bboxes: torch.Tensor
    scores: torch.Tensor


class BaseDetector(nn.Module):
    """Find the individuals in images.

    ``forward(images [B, 3, H, W])`` (normalized like the pose model's input)
    returns :class:`Detections`, zero-padded to ``max_detections`` boxes per
    image. ``get_loss(images, bboxes [B, N, 4])`` returns ``{"total":
    scalar, <term>: scalar, ...}`` for training, where ``bboxes`` are the
    labeled boxes (x, y, w, h in input pixels, e.g. from
    :func:`lightning_pose_arch.data.topdown.bbox_from_keypoints`); a box with
    no area marks a missing individual and is ignored.
    """

    max_detections: int

    def get_loss(self, images: torch.Tensor, bboxes: torch.Tensor) -> dict[str, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> Detections:  # pragma: no cover - abstract
        raise NotImplementedError


def xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """``[..., 4]`` (x, y, w, h) → ``[..., 4]`` (x0, y0, x1, y1)."""
    return torch.cat([boxes[..., :2], boxes[..., :2] + boxes[..., 2:]], dim=-1)


def xyxy_to_xywh(boxes: torch.Tensor) -> torch.Tensor:
    """``[..., 4]`` (x0, y0, x1, y1) → ``[..., 4]`` (x, y, w, h)."""
    return torch.cat([boxes[..., :2], boxes[..., 2:] - boxes[..., :2]], dim=-1)


DETECTORS: Registry[BaseDetector] = Registry("DETECTORS", BaseDetector)
