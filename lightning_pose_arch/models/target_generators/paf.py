"""Part affinity field (PAF) targets (OpenPose, Cao et al. 2017) with heatmap and locref targets.

Decoded by :class:`~lightning_pose_arch.models.predictors.paf.PartAffinityFieldPredictor`;
both map grid ↔ image with :mod:`lightning_pose_arch.models.grid`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lightning_pose_arch.data.types import HeadOutputs, HeadTargets
from lightning_pose_arch.models.grid import grid_to_image, image_to_grid
from lightning_pose_arch.models.target_generators.base import TARGET_GENERATORS
from lightning_pose_arch.models.target_generators.heatmap import HeatmapGaussianGenerator


def paf_edges(edges: Sequence[Sequence[int]] | None, num_keypoints: int, where: str) -> list[tuple[int, int]]:
    """Validated edges ``[(k1, k2), ...]``; ``None`` gives the complete graph over ``num_keypoints``.

    The complete graph (every pair ``k1 < k2``) is DeepLabCut's default for
    multi-animal PAF models when the project has no skeleton.

    Raises:
        ValueError: naming ``where`` when an edge is not a pair of distinct
            indices in ``[0, num_keypoints)``, or when there is no edge.
    """
    if edges is None:
        edges = [(k1, k2) for k1 in range(num_keypoints) for k2 in range(k1 + 1, num_keypoints)]
    pairs = [tuple(int(k) for k in edge) for edge in edges]
    bad = [p for p in pairs if len(p) != 2 or p[0] == p[1] or not all(0 <= k < num_keypoints for k in p)]
    if bad:
        raise ValueError(f"{where} edges must be pairs of distinct keypoint indices in [0, {num_keypoints}), got {bad}")
    if not pairs:
        raise ValueError(f"{where} needs at least one edge (and so at least 2 keypoints), got none")
    return pairs  # type: ignore[return-value]


@TARGET_GENERATORS.register
class PAFGenerator(HeatmapGaussianGenerator):
    """Gaussian heatmaps and locref (as :class:`HeatmapGaussianGenerator`) plus part affinity fields.

    Letters: B batch, N individuals, K keypoints (= ``num_heatmaps``), E edges, h×w grid.

    Takes ``keypoints [B, N, K, 3]`` (input pixels) and the head outputs (for
    their sizes and device) and returns the heatmap generator's
    ``"heatmap"`` (and ``"locref"``) targets plus ``{"paf": {"target":
    [B, 2E, h, w], "weights": [B, 2E, 1, 1]}}``. Channel ``2e`` holds the x
    and ``2e + 1`` the y component of edge ``e = (k1, k2)``.

    For every individual with both ends of an edge labeled (and apart), a
    cell gets the unit vector ``k1 → k2`` when its center lies in the
    rectangle around the segment: its projection on the segment falls
    between the two ends and its distance to the segment's line is at most
    ``paf_width`` pixels (OpenPose). Where several individuals' rectangles
    overlap, the cell holds the mean of their vectors (OpenPose's average,
    so it may be shorter than 1); elsewhere 0. A PAF channel's weight is 1
    when its edge is labeled in at least one individual of the image, else 0.

    Args:
        num_heatmaps: K, one heatmap per keypoint.
        edges: Keypoint index pairs, one field per edge; ``None``: every pair (complete graph).
        paf_width: Half-width (input pixels) of the region around a limb that carries its vector.
        pos_dist_thresh: Locref radius (input pixels); sets the Gaussian σ (2/3 of it).
        generate_locref: Also return location-refinement targets (``None``: the head's codec value).
        locref_std: Locref offsets are divided by it (``None``: the head's codec value).
    """

    def __init__(
        self,
        num_heatmaps: int,
        edges: list[tuple[int, int]] | None = None,
        paf_width: float = 20.0,
        pos_dist_thresh: float = 17.0,
        generate_locref: bool | None = None,
        locref_std: float | None = None,
    ) -> None:
        if paf_width <= 0:
            raise ValueError(f"PAFGenerator paf_width must be > 0, got {paf_width}")
        super().__init__(num_heatmaps=num_heatmaps, pos_dist_thresh=pos_dist_thresh, generate_locref=generate_locref,
                         locref_std=locref_std)
        self.edges = paf_edges(edges, num_heatmaps, where="PAFGenerator")
        self.paf_width = float(paf_width)

    def __call__(self, keypoints: torch.Tensor, outputs: HeadOutputs, stride: float) -> HeadTargets:
        targets = super().__call__(keypoints, outputs, stride)
        paf = outputs["paf"]
        if paf.shape[1] != 2 * len(self.edges):
            raise ValueError(f"PAFGenerator: {len(self.edges)} edges need {2 * len(self.edges)} paf channels, "
                             f"got {paf.shape[1]}")
        field, labeled = self.fields(keypoints.to(device=paf.device, dtype=torch.float32), paf.shape[-2:], stride)
        batch, num_edges = labeled.shape
        weights = labeled[:, :, None].expand(-1, -1, 2).reshape(batch, 2 * num_edges, 1, 1)
        targets["paf"] = {"target": field.reshape(paf.shape).to(paf.dtype), "weights": weights.to(paf.dtype)}
        return targets

    def fields(
        self, keypoints: torch.Tensor, grid: Sequence[int], stride: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fields ``[B, E, 2, h, w]`` and the edges labeled in at least one individual ``[B, E]`` (bool).

        ``keypoints`` is ``[B, N, K, 3]`` float on the target device. Each limb
        is rasterized in a window of cells around it (one window size for all,
        the largest limb's), and the windows are summed into the grid.
        """
        height, width = grid
        batch = keypoints.shape[0]
        start, unit, length, labeled = self._limbs(keypoints)
        present = labeled & (length > 0)  # both ends on one point: no direction to encode
        rows, cols = self._windows(start, start + unit * length[..., None], present, (height, width), stride)
        dx = grid_to_image(cols.to(start.dtype), stride) - start[..., 0, None]  # [B, N, E, wx]
        dy = grid_to_image(rows.to(start.dtype), stride) - start[..., 1, None]  # [B, N, E, wy]
        ux, uy = unit[..., 0, None, None], unit[..., 1, None, None]
        # A cell's coordinates in the limb's frame are separable sums of a row and a column term.
        along = dy[..., :, None] * uy + dx[..., None, :] * ux  # [B, N, E, wy, wx]
        across = dy[..., :, None] * ux - dx[..., None, :] * uy
        inside = (along >= 0) & (along <= length[..., None, None]) & (across.abs() <= self.paf_width)
        inside &= present[..., None, None]
        num_edges = len(self.edges)
        # Flat index of (b, e, channel, row, col) in a [B, E, 3, h, w] sum: x, y and the number of limbs.
        channel = torch.arange(batch * num_edges * 3, device=keypoints.device).reshape(batch, 1, num_edges, 1, 1, 3)
        cell = (channel * height + rows[..., :, None, None]) * width + cols[..., None, :, None]
        values = torch.cat([unit, torch.ones_like(length)[..., None]], dim=-1)  # x, y, count
        values = values[..., None, None, :] * inside[..., None].to(values.dtype)  # [B, N, E, wy, wx, 3]
        sums = torch.zeros(batch, num_edges, 3, height, width, device=keypoints.device, dtype=values.dtype)
        sums.view(-1).index_put_((cell.expand(values.shape).reshape(-1),), values.reshape(-1), accumulate=True)
        return sums[:, :, :2] / sums[:, :, 2:].clamp_min(1.0), labeled.any(dim=1)

    def _limbs(self, keypoints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per limb ``[B, N, E]``: start ``[..., 2]``, unit vector ``[..., 2]``, length, both ends labeled."""
        index = torch.tensor(self.edges, device=keypoints.device)  # [E, 2]
        ends = keypoints[:, :, index]  # [B, N, E, 2, 3]
        labeled = (ends[..., 2] > 0).all(dim=-1)
        xy = ends[..., :2].masked_fill(~labeled[..., None, None], 0.0)  # unlabeled coordinates may be NaN
        limb = xy[..., 1, :] - xy[..., 0, :]
        length = limb.norm(dim=-1)
        return xy[..., 0, :], limb / length.clamp_min(1e-12)[..., None], length, labeled

    def _windows(
        self, start: torch.Tensor, end: torch.Tensor, present: torch.Tensor, grid: Sequence[int], stride: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Row ``[B, N, E, wy]`` and column ``[B, N, E, wx]`` indices of each limb's window, inside the grid.

        A window holds every cell whose center is within ``paf_width`` of the
        limb's bounding box (one cell more each side against rounding). The
        window size is the largest over the present limbs, read back to the
        host once per call (a device sync on GPU).
        """
        margin = self.paf_width + stride
        first = image_to_grid(torch.minimum(start, end) - margin, stride).ceil()  # [B, N, E, 2] (x, y)
        last = image_to_grid(torch.maximum(start, end) + margin, stride).floor()
        sizes = (last - first + 1).masked_fill(~present[..., None], 1.0).flatten(0, -2).amax(dim=0)
        limits = torch.tensor([grid[1], grid[0]], device=start.device)
        size_x, size_y = torch.minimum(sizes.long(), limits).clamp_min(1).tolist()
        first = torch.minimum(first.long().clamp_min(0), limits - torch.tensor([size_x, size_y], device=start.device))
        cols = first[..., 0, None] + torch.arange(size_x, device=start.device)
        rows = first[..., 1, None] + torch.arange(size_y, device=start.device)
        return rows, cols
