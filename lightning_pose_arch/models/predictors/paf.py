"""Part affinity field decoding (OpenPose, Cao et al. 2017): peaks, limb scores, grouping into individuals.

Inverse of :mod:`lightning_pose_arch.models.target_generators.paf`; both map
grid ↔ image with :mod:`lightning_pose_arch.models.grid`. Peak finding and
edge scoring are batched torch; the grouping runs per image on the CPU
(:mod:`lightning_pose_arch.models.predictors.paf_assembly`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from lightning_pose_arch.data.types import HeadOutputs, Prediction
from lightning_pose_arch.models.codec import DEFAULT_LOCATION_REFINEMENT, DEFAULT_LOCREF_STD, given_names
from lightning_pose_arch.models.grid import grid_to_image, image_to_grid
from lightning_pose_arch.models.predictors.base import PREDICTORS, BasePredictor
from lightning_pose_arch.models.predictors.paf_assembly import Matching, assemble
from lightning_pose_arch.models.target_generators.paf import paf_edges


def find_peaks(
    heatmap: torch.Tensor, nms_kernel: int, threshold: float, max_peaks: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Local maxima of ``heatmap [B, K, h, w]``: the ``max_peaks`` highest per keypoint.

    A cell is a peak when it equals the maximum of its ``nms_kernel ×
    nms_kernel`` neighbourhood and is at least ``threshold`` (neighbouring
    cells of exactly equal value are all peaks).

    Returns:
        ``(scores [B, K, P], flat cell index [B, K, P], valid [B, K, P])`` with
        ``P = min(max_peaks, h·w)``, best first; slots without a peak have
        ``valid`` False and score 0.
    """
    pooled = F.max_pool2d(heatmap, nms_kernel, stride=1, padding=nms_kernel // 2)
    is_peak = (heatmap == pooled) & (heatmap >= threshold)
    candidates = heatmap.masked_fill(~is_peak, float("-inf")).flatten(2)
    scores, index = candidates.topk(min(max_peaks, candidates.shape[-1]), dim=2)
    valid = torch.isfinite(scores)
    return scores.masked_fill(~valid, 0.0), index, valid


def peak_positions(
    index: torch.Tensor, width: int, stride: float, locref: torch.Tensor | None, locref_std: float
) -> torch.Tensor:
    """Input-pixel positions ``[B, K, P, 2]`` of the cells ``index [B, K, P]`` (flat over an ``h × w`` grid).

    ``locref [B, 2K, h, w]`` (interleaved x/y, in units of ``locref_std``)
    moves each peak from its cell center when given.
    """
    xy = torch.stack([grid_to_image((index % width).float(), stride),
                      grid_to_image(torch.div(index, width, rounding_mode="floor").float(), stride)], dim=-1)
    if locref is None:
        return xy
    batch, num_kpts, num_peaks = index.shape
    offsets = locref.reshape(batch, num_kpts, 2, -1).gather(3, index[:, :, None].expand(-1, -1, 2, -1))
    return xy + offsets.transpose(2, 3).float() * locref_std


def limb_scores(
    paf: torch.Tensor, peaks: torch.Tensor, edges: Sequence[tuple[int, int]], stride: float, num_samples: int,
    interpolation: Literal["bilinear", "nearest"], sample_threshold: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Line integral of the fields along every candidate limb, and its share of supporting samples.

    For edge ``e = (k1, k2)``, peak ``i`` of k1 and peak ``j`` of k2, the
    field ``paf[:, 2e:2e+2]`` is sampled (``interpolation``, zero outside
    the grid) at ``num_samples`` points ``t = (s + 0.5) / num_samples`` of
    the segment ``i → j`` and dotted with its unit vector.

    Args:
        paf: ``[B, 2E, h, w]`` fields.
        peaks: ``[B, K, P, 2]`` peak positions in input pixels.

    Returns:
        ``(mean dot product, fraction of samples with dot > sample_threshold)``,
        both ``[B, E, P, P]``; 0 for pairs on one point.
    """
    batch, _, height, width = paf.shape
    num_edges, num_peaks = len(edges), peaks.shape[2]
    index = torch.tensor(edges, device=paf.device)
    start = peaks[:, index[:, 0], :, None]  # [B, E, P, 1, 2]
    delta = peaks[:, index[:, 1], None] - start  # [B, E, P, P, 2]
    unit = delta / delta.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    t = (torch.arange(num_samples, device=paf.device, dtype=peaks.dtype) + 0.5) / num_samples
    points = image_to_grid(start[..., None, :] + t[:, None] * delta[..., None, :], stride)  # [B, E, P, P, S, 2]
    scale = torch.tensor([max(width - 1, 1), max(height - 1, 1)], device=paf.device, dtype=peaks.dtype)
    sampled = F.grid_sample(
        paf.reshape(batch * num_edges, 2, height, width).to(peaks.dtype),
        (points / scale * 2 - 1).reshape(batch * num_edges, -1, 1, 2),
        mode=interpolation, padding_mode="zeros", align_corners=True,
    ).reshape(batch, num_edges, 2, num_peaks, num_peaks, num_samples)
    dots = (sampled * unit.permute(0, 1, 4, 2, 3)[..., None]).sum(dim=2)  # [B, E, P, P, S]
    return dots.mean(dim=-1), (dots > sample_threshold).to(dots.dtype).mean(dim=-1)


@PREDICTORS.register
class PartAffinityFieldPredictor(BasePredictor):
    """Bottom-up multi-animal decoder: heatmap peaks grouped into individuals by part affinity fields.

    Letters: B batch, K keypoints, E edges, P peaks per keypoint, M = ``max_individuals``.

    Takes ``{"heatmap": [B, K, h, w], "paf": [B, 2E, h, w]}`` (x of edge e at
    channel ``2e``, y at ``2e + 1``; plus ``"locref": [B, 2K, h, w]`` with
    ``location_refinement``) and returns ``{"keypoints": [B, M, K, 3]}``
    (x, y, score) in input pixels, individuals by descending score, unused
    slots and missing keypoints all zero.

    1. Peaks (:func:`find_peaks`): max-pool NMS, score ≥ ``peak_threshold``,
       the ``max_peaks_per_keypoint`` best, moved by locref.
    2. Limbs (:func:`limb_scores`): each candidate pair of an edge scores the
       mean dot product of the field and the pair's unit vector over
       ``num_samples`` points; a pair may connect when both peaks exist, the
       score exceeds ``min_edge_score`` and at least ``min_sample_fraction``
       of the samples exceed ``sample_threshold`` (OpenPose uses 0.8, 0.05).
    3. Grouping (:func:`~lightning_pose_arch.models.predictors.paf_assembly.assemble`):
       one-to-one matching per edge (``"hungarian"``: maximum total score;
       ``"greedy"``: by descending score), then connections merged into
       individuals, strongest first, never giving an individual two peaks
       of one keypoint. Instance score: mean of its keypoint and connection
       scores. Peaks that connect to nothing are dropped unless
       ``keep_singletons`` (then each is an individual of its own).

    Keypoint scores are the heatmap values at the peaks, clamped to [0, 1].

    Args:
        edges: Keypoint index pairs of the fields; ``None``: the complete graph over K (must match the generator).
        location_refinement: Use the locref offsets (``None``: the head's codec value, default True).
        locref_std: Scale of the locref offsets (``None``: the head's codec value, default 7.2801).
        nms_kernel: Odd max-pool window (cells) of the peak finding.
        peak_threshold: Lowest heatmap value of a peak.
        max_peaks_per_keypoint: P, candidate peaks kept per keypoint.
        num_samples: Points sampled along each candidate limb.
        interpolation: How the fields are sampled between cell centers.
        min_edge_score: A pair connects only above this line integral (in [0, 1)).
        sample_threshold: A sample supports the pair above this dot product.
        min_sample_fraction: Share of supporting samples a pair needs (0 disables).
        matching: Per-edge assignment, ``"hungarian"`` or ``"greedy"``.
        max_individuals: M, individuals returned per image.
        keep_singletons: Return unconnected peaks as one-keypoint individuals.
    """

    def __init__(
        self,
        edges: list[tuple[int, int]] | None = None,
        location_refinement: bool | None = None,
        locref_std: float | None = None,
        nms_kernel: int = 3,
        peak_threshold: float = 0.1,
        max_peaks_per_keypoint: int = 20,
        num_samples: int = 10,
        interpolation: Literal["bilinear", "nearest"] = "bilinear",
        min_edge_score: float = 0.05,
        sample_threshold: float = 0.05,
        min_sample_fraction: float = 0.0,
        matching: Matching = "hungarian",
        max_individuals: int = 10,
        keep_singletons: bool = False,
    ) -> None:
        where = "PartAffinityFieldPredictor"
        if nms_kernel < 1 or nms_kernel % 2 == 0:
            raise ValueError(f"{where} nms_kernel must be an odd integer >= 1, got {nms_kernel}")
        self._codec_given = given_names(location_refinement=location_refinement, locref_std=locref_std)
        self.location_refinement = DEFAULT_LOCATION_REFINEMENT if location_refinement is None else location_refinement
        self.locref_std = float(DEFAULT_LOCREF_STD if locref_std is None else locref_std)
        if min(max_peaks_per_keypoint, num_samples, max_individuals) < 1 or self.locref_std <= 0:
            raise ValueError(f"{where} max_peaks_per_keypoint, num_samples and max_individuals must be >= 1 and "
                             f"locref_std > 0, got {max_peaks_per_keypoint}, {num_samples}, {max_individuals}, "
                             f"{locref_std}")
        if not (0 <= min_edge_score < 1 and 0 <= min_sample_fraction <= 1):
            raise ValueError(f"{where} min_edge_score must be in [0, 1) and min_sample_fraction in [0, 1], "
                             f"got {min_edge_score} and {min_sample_fraction}")
        if interpolation not in ("bilinear", "nearest") or matching not in ("hungarian", "greedy"):
            raise ValueError(f"{where} interpolation must be 'bilinear' or 'nearest' and matching 'hungarian' or "
                             f"'greedy', got {interpolation!r} and {matching!r}")
        self.edges = None if edges is None else [(int(k1), int(k2)) for k1, k2 in edges]
        self.nms_kernel = nms_kernel
        self.peak_threshold = float(peak_threshold)
        self.max_peaks_per_keypoint = max_peaks_per_keypoint
        self.num_samples = num_samples
        self.interpolation = interpolation
        self.min_edge_score = float(min_edge_score)
        self.sample_threshold = float(sample_threshold)
        self.min_sample_fraction = float(min_sample_fraction)
        self.matching = matching
        self.max_individuals = max_individuals
        self.keep_singletons = keep_singletons

    def __call__(self, outputs: HeadOutputs, stride: float) -> Prediction:
        heatmap, paf = outputs["heatmap"], outputs["paf"]
        edges = paf_edges(self.edges, heatmap.shape[1], where="PartAffinityFieldPredictor")
        if paf.shape[1] != 2 * len(edges):
            raise ValueError(f"PartAffinityFieldPredictor: {len(edges)} edges need {2 * len(edges)} paf channels, "
                             f"got {paf.shape[1]}")
        scores, index, valid = find_peaks(heatmap, self.nms_kernel, self.peak_threshold, self.max_peaks_per_keypoint)
        locref = outputs["locref"] if self.location_refinement else None
        peaks = peak_positions(index, heatmap.shape[-1], stride, locref, self.locref_std)
        edge_scores, support = limb_scores(paf, peaks, edges, stride, self.num_samples, self.interpolation,
                                           self.sample_threshold)
        pair_index = torch.tensor(edges, device=paf.device)
        edge_valid = valid[:, pair_index[:, 0], :, None] & valid[:, pair_index[:, 1], None, :]
        edge_valid &= (edge_scores > self.min_edge_score) & (support >= self.min_sample_fraction)
        keypoints = torch.cat([peaks, scores.clamp(0.0, 1.0)[..., None].to(peaks.dtype)], dim=-1)  # [B, K, P, 3]
        return {"keypoints": self._group(keypoints, valid, edges, edge_scores, edge_valid)}

    def _group(self, keypoints: torch.Tensor, valid: torch.Tensor, edges: Sequence[tuple[int, int]],
               edge_scores: torch.Tensor, edge_valid: torch.Tensor) -> torch.Tensor:
        """``[B, M, K, 3]`` from the peaks ``keypoints [B, K, P, 3]`` and the scored pairs ``[B, E, P, P]``."""
        batch, num_kpts = keypoints.shape[:2]
        found, valid_np, scores_np, pairs_np = (t.detach().cpu().numpy()
                                                for t in (keypoints, valid, edge_scores, edge_valid))
        result = np.zeros((batch, self.max_individuals, num_kpts, 3), dtype=found.dtype)
        for b in range(batch):
            individuals = assemble(found[b, ..., 2], valid_np[b], edges, scores_np[b], pairs_np[b],
                                   self.matching, self.keep_singletons)
            for slot, (members, _) in enumerate(individuals[: self.max_individuals]):
                present = np.nonzero(members >= 0)[0]
                result[b, slot, present] = found[b, present, members[present]]
        return torch.from_numpy(result).to(keypoints.device)
