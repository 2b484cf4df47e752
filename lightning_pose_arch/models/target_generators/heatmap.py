"""Heatmap targets (Gaussian or plateau) with location-refinement maps.

Decoded by :class:`~lightning_pose_arch.models.predictors.heatmap.HeatmapPredictor`;
both map grid ↔ image with :mod:`lightning_pose_arch.models.grid`.
"""

from __future__ import annotations

import torch

from lightning_pose_arch.data.types import HeadOutputs, HeadTargets
from lightning_pose_arch.models.codec import DEFAULT_LOCATION_REFINEMENT, DEFAULT_LOCREF_STD, given_names
from lightning_pose_arch.models.grid import cell_centers
from lightning_pose_arch.models.target_generators.base import TARGET_GENERATORS, BaseGenerator


class _HeatmapGenerator(BaseGenerator):
    """Shared heatmap + locref encoding; subclasses give the heatmap profile.

    Letters: B batch, N individuals, K keypoints (= ``num_heatmaps``), h×w grid.

    Returns ``{"heatmap": {"target": [B,K,h,w], "weights": [B,K,1,1]}}`` and,
    with ``generate_locref``, ``{"locref": {"target": [B,2K,h,w], "weights":
    [B,2K,h,w]}}``. Locref channels are interleaved (x of keypoint k at
    ``2k``, y at ``2k+1``) and hold ``(keypoint - cell center) / locref_std``
    for cells within ``pos_dist_thresh`` pixels of the nearest individual's
    keypoint. The heatmap of several individuals is the max over them.
    Heatmap weights are 1 for keypoints labeled in at least one individual.
    ``generate_locref`` and ``locref_std`` left ``None`` take the head's codec
    values (the predictor's, when it sets them; else True and 7.2801).
    """

    def __init__(
        self,
        num_heatmaps: int,
        pos_dist_thresh: float = 17.0,
        generate_locref: bool | None = None,
        locref_std: float | None = None,
    ) -> None:
        if num_heatmaps <= 0:
            raise ValueError(f"{type(self).__name__} num_heatmaps must be > 0, got {num_heatmaps}")
        self._codec_given = given_names(generate_locref=generate_locref, locref_std=locref_std)
        self.locref_std = float(DEFAULT_LOCREF_STD if locref_std is None else locref_std)
        if pos_dist_thresh <= 0 or self.locref_std <= 0:
            raise ValueError(f"{type(self).__name__} pos_dist_thresh and locref_std must be > 0, "
                             f"got {pos_dist_thresh} and {self.locref_std}")
        self.num_heatmaps = num_heatmaps
        self.pos_dist_thresh = float(pos_dist_thresh)
        self.generate_locref = DEFAULT_LOCATION_REFINEMENT if generate_locref is None else generate_locref

    def profile(self, dist_sq: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Heatmap value as a function of squared pixel distance."""
        raise NotImplementedError

    def __call__(self, keypoints: torch.Tensor, outputs: HeadOutputs, stride: float) -> HeadTargets:
        heatmap = outputs["heatmap"]
        batch, num_kpts, height, width = heatmap.shape
        if keypoints.shape[2] != num_kpts or num_kpts != self.num_heatmaps:
            raise ValueError(f"{type(self).__name__}: {keypoints.shape[2]} keypoints, {self.num_heatmaps} "
                             f"num_heatmaps and {num_kpts} heatmap channels must agree")
        keypoints = keypoints.to(device=heatmap.device, dtype=torch.float32)
        ys, xs = cell_centers(height, width, stride, device=heatmap.device)
        labeled = keypoints[..., 2] > 0  # [B, N, K]
        x = keypoints[..., 0].masked_fill(~labeled, 0.0)  # unlabeled coordinates may be NaN
        y = keypoints[..., 1].masked_fill(~labeled, 0.0)
        # Squared distances are separable: only their sum is materialized on the full grid.
        dx_sq = ((x[..., None] - xs) ** 2).masked_fill(~labeled[..., None], float("inf"))  # [B, N, K, w]
        dy_sq = (y[..., None] - ys) ** 2  # [B, N, K, h]
        dist_sq = dy_sq[..., :, None] + dx_sq[..., None, :]  # [B, N, K, h, w]
        if self.generate_locref:
            nearest_x, nearest_y, nearest_sq = self._nearest_individual(x, y, dist_sq)
        else:  # the heatmap needs only the distance
            nearest_sq = dist_sq.amin(dim=1)
        targets: HeadTargets = {
            "heatmap": {
                "target": self.profile(nearest_sq),  # profiles decrease with distance: max over N = nearest
                "weights": labeled.any(dim=1).to(heatmap.dtype)[..., None, None],
            }
        }
        if self.generate_locref:
            off_x, off_y = nearest_x - xs, nearest_y - ys[:, None]  # keypoint minus cell center
            within = (nearest_sq <= self.pos_dist_thresh**2).to(heatmap.dtype)
            scale = within / self.locref_std
            target = torch.stack([off_x * scale, off_y * scale], dim=2).reshape(batch, 2 * num_kpts, height, width)
            weights = within[:, :, None].expand(-1, -1, 2, -1, -1).reshape(batch, 2 * num_kpts, height, width)
            targets["locref"] = {"target": target, "weights": weights}
        return targets

    @staticmethod
    def _nearest_individual(
        x: torch.Tensor, y: torch.Tensor, dist_sq: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per cell, the nearest labeled individual's keypoint ``(x, y)`` and squared distance.

        ``x``, ``y`` are ``[B, N, K]``; ``dist_sq`` is ``[B, N, K, h, w]``. Returns
        tensors broadcastable to ``[B, K, h, w]``.
        """
        if dist_sq.shape[1] == 1:  # one individual: nothing to choose, skip the gathers
            return x[:, 0, :, None, None], y[:, 0, :, None, None], dist_sq[:, 0]
        nearest_sq, nearest = dist_sq.min(dim=1)  # [B, K, h, w]
        index = nearest[:, None]
        grid = dist_sq.shape[-2:]
        nearest_x = x[..., None, None].expand(-1, -1, -1, *grid).gather(1, index)[:, 0]
        nearest_y = y[..., None, None].expand(-1, -1, -1, *grid).gather(1, index)[:, 0]
        return nearest_x, nearest_y, nearest_sq


@TARGET_GENERATORS.register
class HeatmapGaussianGenerator(_HeatmapGenerator):
    """Gaussian heatmaps ``exp(-d² / (2σ²))`` with ``σ = 2/3 · pos_dist_thresh`` px, plus locref.

    Args:
        num_heatmaps: K, one heatmap per keypoint.
        pos_dist_thresh: Radius (input pixels) of the locref region; sets σ.
        generate_locref: Also return location-refinement targets (``None``: the head's codec value).
        locref_std: Locref offsets are divided by it (``None``: the head's codec value, default DeepLabCut's 7.2801).

    Shapes: see the heatmap family docstring in this module (``_HeatmapGenerator``).
    """

    def profile(self, dist_sq: torch.Tensor) -> torch.Tensor:
        denominator = 2.0 * (2.0 * self.pos_dist_thresh / 3.0) ** 2
        # exp() of float32 arguments that underflow (< -87) takes a slow path on x86 CPUs (measured 25x):
        # beyond exp(-80) < 2e-35 the map is set to 0 instead
        far = dist_sq > 80.0 * denominator
        return torch.exp(-dist_sq.clamp_max(80.0 * denominator) / denominator).masked_fill_(far, 0.0)


@TARGET_GENERATORS.register
class HeatmapPlateauGenerator(_HeatmapGenerator):
    """Plateau heatmaps: 1 within ``pos_dist_thresh`` px of a keypoint, else 0; plus locref.

    Args:
        num_heatmaps: K, one heatmap per keypoint.
        pos_dist_thresh: Plateau (and locref) radius in input pixels.
        generate_locref: Also return location-refinement targets (``None``: the head's codec value).
        locref_std: Locref offsets are divided by it (``None``: the head's codec value).

    Shapes: see the heatmap family docstring in this module (``_HeatmapGenerator``).
    """

    def profile(self, dist_sq: torch.Tensor) -> torch.Tensor:
        return (dist_sq <= self.pos_dist_thresh**2).float()
