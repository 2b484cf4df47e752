"""DEKR decoding: center peaks → regressed poses → keypoints rescored by their heatmaps.

Inverse of :mod:`lightning_pose_arch.models.target_generators.dekr`; both map
grid ↔ image with :mod:`lightning_pose_arch.models.grid`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lightning_pose_arch.data.types import HeadOutputs, Prediction
from lightning_pose_arch.models.grid import grid_to_image, image_to_grid
from lightning_pose_arch.models.predictors.base import PREDICTORS, BasePredictor


def sample_maps(maps: torch.Tensor, points: torch.Tensor, stride: float) -> torch.Tensor:
    """Bilinear value of map ``k`` at the points of keypoint ``k``.

    Args:
        maps: ``[B, K, h, w]``.
        points: ``[B, M, K, 2]`` (x, y) in input-image pixels.
        stride: Input pixels per map cell.

    Returns:
        ``[B, M, K]``; points beyond the outer cell centers take the border value.
    """
    batch, num_maps, height, width = maps.shape
    grid = image_to_grid(points, stride)
    # align_corners=True puts -1 and +1 on the first and last cell centers, which sit at grid 0 and size-1
    sizes = torch.tensor([max(width - 1, 1), max(height - 1, 1)], device=points.device, dtype=points.dtype)
    normalized = (2.0 * grid / sizes - 1.0).permute(0, 2, 1, 3).reshape(batch * num_maps, -1, 1, 2)
    values = F.grid_sample(maps.reshape(batch * num_maps, 1, height, width), normalized.to(maps.dtype),
                           mode="bilinear", padding_mode="border", align_corners=True)
    return values.reshape(batch, num_maps, -1).transpose(1, 2)


@PREDICTORS.register
class DEKRPredictor(BasePredictor):
    """Bottom-up multi-animal decoder for :class:`~lightning_pose_arch.models.heads.dekr.DEKRHead`.

    Takes ``{"heatmap": [B, K+1, h, w]}`` (K keypoint heatmaps, then the
    center heatmap) and ``{"offset": [B, 2K, h, w]}`` (interleaved x/y, in
    grid cells) and returns ``{"keypoints": [B, max_individuals, K, 3]}``.

    Centers are the local maxima of the center heatmap (max-pool NMS over
    ``nms_kernel`` cells), the ``max_individuals`` highest with score ≥
    ``center_threshold``. Each center cell's offsets, times the stride, added
    to its center give a pose; each keypoint's score is its heatmap's
    bilinear value at the regressed location (DEKR's rescoring), times the
    center score with ``score_with_center``. Individuals are sorted by
    instance score, the mean of their keypoint scores; unused slots are all
    zeros. Centers closer than ``nms_kernel // 2`` cells (on either axis)
    suppress each other.

    Args:
        max_individuals: N, slots per image.
        center_threshold: Smallest center score that makes an individual, in (0, 1].
        nms_kernel: Odd max-pool size of the center NMS, in cells.
        score_with_center: Multiply keypoint scores by their center's score.
        apply_sigmoid: Heatmaps are logits (e.g. trained with WeightedBCECriterion); else clamped to [0, 1].
    """

    def __init__(
        self,
        max_individuals: int = 10,
        center_threshold: float = 0.1,
        nms_kernel: int = 5,
        score_with_center: bool = False,
        apply_sigmoid: bool = False,
    ) -> None:
        if max_individuals <= 0:
            raise ValueError(f"DEKRPredictor max_individuals must be > 0, got {max_individuals}")
        if not 0.0 < center_threshold <= 1.0:  # > 0: suppressed cells are 0 and must never count
            raise ValueError(f"DEKRPredictor center_threshold must be in (0, 1], got {center_threshold}")
        if nms_kernel < 1 or nms_kernel % 2 == 0:
            raise ValueError(f"DEKRPredictor nms_kernel must be an odd number >= 1, got {nms_kernel}")
        self.max_individuals = max_individuals
        self.center_threshold = float(center_threshold)
        self.nms_kernel = nms_kernel
        self.score_with_center = score_with_center
        self.apply_sigmoid = apply_sigmoid

    def __call__(self, outputs: HeadOutputs, stride: float) -> Prediction:
        heatmap, offset = outputs["heatmap"], outputs["offset"]
        num_kpts = heatmap.shape[1] - 1
        if num_kpts < 1 or offset.shape[1] != 2 * num_kpts or offset.shape[2:] != heatmap.shape[2:]:
            raise ValueError(f"DEKRPredictor expects heatmap [B, K+1, h, w] and offset [B, 2K, h, w], "
                             f"got {tuple(heatmap.shape)} and {tuple(offset.shape)}")
        heatmap = torch.sigmoid(heatmap) if self.apply_sigmoid else heatmap.clamp(0.0, 1.0)
        center_scores, index = self._centers(heatmap[:, num_kpts])  # [B, M]
        poses = self._regress(offset, index, stride)  # [B, M, K, 2]
        scores = sample_maps(heatmap[:, :num_kpts], poses, stride)  # [B, M, K]
        if self.score_with_center:
            scores = scores * center_scores[..., None]
        found = center_scores >= self.center_threshold
        keypoints = torch.cat([poses, scores[..., None]], dim=-1) * found[..., None, None]
        instance = scores.mean(dim=-1).masked_fill(~found, -1.0)
        order = instance.argsort(dim=1, descending=True, stable=True)
        keypoints = keypoints.gather(1, order[..., None, None].expand_as(keypoints))
        return {"keypoints": F.pad(keypoints, (0, 0, 0, 0, 0, self.max_individuals - keypoints.shape[1]))}

    def _centers(self, center_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores and flat cell indices ``[B, M]`` of the top local maxima, M = min(max_individuals, h·w)."""
        pooled = F.max_pool2d(center_map[:, None], self.nms_kernel, stride=1, padding=self.nms_kernel // 2)[:, 0]
        peaks = center_map.masked_fill(center_map < pooled, 0.0).flatten(1)
        return peaks.topk(min(self.max_individuals, peaks.shape[1]), dim=1)

    @staticmethod
    def _regress(offset: torch.Tensor, index: torch.Tensor, stride: float) -> torch.Tensor:
        """Poses ``[B, M, K, 2]`` in input pixels: the center cells plus their offsets."""
        batch, channels, _, width = offset.shape
        picked = offset.flatten(2).gather(2, index[:, None].expand(-1, channels, -1))  # [B, 2K, M]
        picked = picked.reshape(batch, channels // 2, 2, -1).permute(0, 3, 1, 2)  # [B, M, K, 2]
        cells = torch.stack([index % width, index // width], dim=-1).to(offset.dtype)  # [B, M, 2] grid (x, y)
        return grid_to_image(cells, stride)[:, :, None] + picked * stride
