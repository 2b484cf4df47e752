"""DEKR targets: keypoint and center heatmaps, and per-keypoint offsets from each center region.

Decoded by :class:`~lightning_pose_arch.models.predictors.dekr.DEKRPredictor`;
both map grid ↔ image with :mod:`lightning_pose_arch.models.grid`.
"""

from __future__ import annotations

import torch

from lightning_pose_arch.data.types import HeadOutputs, HeadTargets
from lightning_pose_arch.models.grid import cell_centers, image_to_grid
from lightning_pose_arch.models.target_generators.base import TARGET_GENERATORS, BaseGenerator
from lightning_pose_arch.models.target_generators.heatmap import HeatmapGaussianGenerator


def individual_centers(keypoints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(x, y)`` of each individual's labeled keypoints.

    Args:
        keypoints: ``[B, N, K, 3]`` (x, y, visibility); visibility 0 = unlabeled (x, y may be NaN).

    Returns:
        ``(centers [B, N, 2], present [B, N])``; ``present`` is False (and the
        center 0) for individuals with no labeled keypoint.
    """
    labeled = keypoints[..., 2:] > 0  # [B, N, K, 1]
    xy = keypoints[..., :2].masked_fill(~labeled, 0.0)
    count = labeled.sum(dim=2)  # [B, N, 1]
    return xy.sum(dim=2) / count.clamp_min(1), count[..., 0] > 0


@TARGET_GENERATORS.register
class DEKRGenerator(BaseGenerator):
    """Targets of DEKR (Geng et al. 2021): K keypoint heatmaps + 1 center heatmap, and 2K offsets.

    Letters: B batch, N individuals, K keypoints, h×w grid of the head's ``stride``.

    The center of an individual is the mean of its labeled keypoints (DEKR
    uses the mean of the visible ones); individuals with no labeled keypoint
    are ignored. Returns:

    - ``"heatmap"``: target ``[B, K+1, h, w]``: Gaussians of ``sigma`` px
      around each keypoint (channels ``0…K-1``) and of ``center_sigma`` px
      around each center (channel ``K``), max over individuals; weights
      ``[B, K+1, 1, 1]``: 1 where the keypoint (the center: any individual) is
      labeled in at least one individual of the image, as
      :class:`HeatmapGaussianGenerator` (which computes these maps).
    - ``"offset"``: target ``[B, 2K, h, w]``, interleaved (x of keypoint k at
      ``2k``, y at ``2k+1``): ``(keypoint - cell center) / stride``, i.e. in
      grid cells as in DEKR, for cells within ``center_radius`` px of an
      individual's center. Where several individuals' regions overlap, a cell
      belongs to the individual whose center is nearest. Weights ``[B, 2K, h,
      w]``: 1 (or ``1/sqrt(area)`` with ``weight_by_area``) for the owner's
      labeled keypoints, 0 elsewhere (and the target 0 there).

    Args:
        num_keypoints: K.
        sigma: Keypoint Gaussian standard deviation, input pixels.
        center_sigma: Center Gaussian standard deviation, input pixels.
        center_radius: Cells within this distance (input pixels) of a center get offset targets.
            Keep it ≥ ``stride/√2`` so the cell nearest to each center (where the predictor reads) has one.
        weight_by_area: Weight an individual's offsets by ``1/sqrt(area)`` as DEKR, ``area`` the
            bounding box of its labeled keypoints in grid cells², clamped to ≥ 1, so large and
            small individuals count alike.
    """

    def __init__(
        self,
        num_keypoints: int,
        sigma: float = 8.0,
        center_sigma: float = 16.0,
        center_radius: float = 16.0,
        weight_by_area: bool = False,
    ) -> None:
        if num_keypoints <= 0:
            raise ValueError(f"DEKRGenerator num_keypoints must be > 0, got {num_keypoints}")
        if min(sigma, center_sigma, center_radius) <= 0:
            raise ValueError(f"DEKRGenerator sigma, center_sigma and center_radius must be > 0, "
                             f"got {sigma}, {center_sigma} and {center_radius}")
        self.num_keypoints = num_keypoints
        self.sigma = float(sigma)
        self.center_sigma = float(center_sigma)
        self.center_radius = float(center_radius)
        self.weight_by_area = weight_by_area
        # HeatmapGaussianGenerator's σ is 2/3 of its pos_dist_thresh
        self._keypoint_maps = HeatmapGaussianGenerator(num_keypoints, 1.5 * sigma, generate_locref=False)
        self._center_maps = HeatmapGaussianGenerator(1, 1.5 * center_sigma, generate_locref=False)

    def __repr__(self) -> str:
        return (f"DEKRGenerator(num_keypoints={self.num_keypoints}, sigma={self.sigma}, "
                f"center_sigma={self.center_sigma}, center_radius={self.center_radius}, "
                f"weight_by_area={self.weight_by_area})")

    def __call__(self, keypoints: torch.Tensor, outputs: HeadOutputs, stride: float) -> HeadTargets:
        heatmap, num_kpts = outputs["heatmap"], self.num_keypoints
        _, channels, height, width = heatmap.shape
        if keypoints.shape[2] != num_kpts or channels != num_kpts + 1:
            raise ValueError(f"DEKRGenerator: {keypoints.shape[2]} keypoints, num_keypoints={num_kpts} and "
                             f"{channels} heatmap channels (must be num_keypoints + 1) must agree")
        keypoints = keypoints.to(device=heatmap.device, dtype=torch.float32)
        centers, present = individual_centers(keypoints)
        center_keypoints = torch.cat([centers, 2.0 * present[..., None]], dim=-1)[:, :, None]  # [B, N, 1, 3]
        keypoint_maps = self._keypoint_maps(keypoints, {"heatmap": heatmap[:, :num_kpts]}, stride)["heatmap"]
        center_maps = self._center_maps(center_keypoints, {"heatmap": heatmap[:, num_kpts:]}, stride)["heatmap"]
        return {
            "heatmap": {
                "target": torch.cat([keypoint_maps["target"], center_maps["target"]], dim=1),
                "weights": torch.cat([keypoint_maps["weights"], center_maps["weights"]], dim=1),
            },
            "offset": self._offsets(keypoints, centers, present, (height, width), stride),
        }

    def _offsets(
        self,
        keypoints: torch.Tensor,
        centers: torch.Tensor,
        present: torch.Tensor,
        grid: tuple[int, int],
        stride: float,
    ) -> dict[str, torch.Tensor]:
        """Offset target and weights ``[B, 2K, h, w]`` from each cell's owner (nearest center within the radius)."""
        (batch, num_ind, num_kpts, _), (height, width) = keypoints.shape, grid
        ys, xs = cell_centers(height, width, stride, device=keypoints.device)
        dist_sq = (centers[..., 0, None, None] - xs) ** 2 + (centers[..., 1, None, None] - ys[:, None]) ** 2
        nearest_sq, owner = dist_sq.masked_fill(~present[..., None, None], float("inf")).min(dim=1)  # [B, h, w]
        within = (nearest_sq <= self.center_radius**2).to(keypoints.dtype).reshape(batch, 1, height * width)
        owns = keypoints.new_zeros(batch, num_ind, height * width).scatter_(1, owner.reshape(batch, 1, -1), within)
        labeled = keypoints[..., 2:] > 0  # [B, N, K, 1]
        rows = [image_to_grid(keypoints[..., :2], stride).masked_fill(~labeled, 0.0).reshape(batch, num_ind, -1),
                labeled.expand(-1, -1, -1, 2).reshape(batch, num_ind, -1).to(keypoints.dtype)]  # interleaved x, y
        if self.weight_by_area:
            rows.append(self._bbox_area(keypoints, labeled[..., 0], stride).rsqrt()[..., None])
        # one-hot owners: a matmul picks each cell's owner's values (exact: the other terms are 0), 0 if unowned
        owned = torch.bmm(torch.cat(rows, dim=2).transpose(1, 2), owns).reshape(batch, -1, height, width)
        position, has_label = owned[:, :2 * num_kpts], owned[:, 2 * num_kpts:4 * num_kpts]
        cols, row_index = torch.arange(width, device=keypoints.device), torch.arange(height, device=keypoints.device)
        cells = torch.stack(torch.broadcast_tensors(cols, row_index[:, None])).repeat(num_kpts, 1, 1)  # [2K, h, w]
        target = torch.addcmul(position, cells.to(owned.dtype), has_label, value=-1.0)  # 0 where unowned/unlabeled
        weights = has_label * owned[:, 4 * num_kpts:] if self.weight_by_area else has_label
        return {"target": target, "weights": weights}

    @staticmethod
    def _bbox_area(keypoints: torch.Tensor, labeled: torch.Tensor, stride: float) -> torch.Tensor:
        """``[B, N]`` area of the labeled keypoints' bounding box in grid cells², at least 1."""
        xy = keypoints[..., :2]
        high = xy.masked_fill(~labeled[..., None], -float("inf")).amax(dim=2)
        low = xy.masked_fill(~labeled[..., None], float("inf")).amin(dim=2)
        extent = ((high - low) / stride).nan_to_num(0.0, posinf=0.0, neginf=0.0).clamp_min(0.0)  # none labeled: 0
        return (extent[..., 0] * extent[..., 1]).clamp_min(1.0)
