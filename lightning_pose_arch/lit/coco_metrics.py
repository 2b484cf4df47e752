"""Multi-animal keypoint metrics in the COCO way: OKS, and OKS mAP / mAR.

The numbers are those of pycocotools' ``COCOeval(iouType="keypoints")`` for
one category, which ``tests/lit/test_coco_metrics.py`` checks against
pycocotools itself. The shapes follow the project's convention: predictions
``[B, Np, K, 3]`` (x, y, keypoint score) with empty slots all zeros, and
targets ``[B, Nt, K, 3]`` (x, y, visibility; 0 = unlabeled).

Where a tensor cannot say what a COCO json says, we do this:

- A target slot without any labeled keypoint is padding: it is left out, as if
  it were absent from the json. pycocotools keeps a ground truth with
  ``num_keypoints == 0`` as an *ignored* region (a detection near its doubled
  box is then neither a true nor a false positive); our tensors carry no box
  for it, so such ground truths are not represented.
- Every target counts as ``iscrowd = 0``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torchmetrics import Metric

# The same floats as pycocotools (numpy's linspace): a recall equal to 0.3 must
# land on the same side of the recall threshold 0.3 as there.
OKS_THRESHOLDS = torch.from_numpy(np.linspace(0.5, 0.95, 10))
RECALL_THRESHOLDS = torch.from_numpy(np.linspace(0.0, 1.0, 101))
AREA_RANGES = {"all": (0.0, 1e10), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e10)}
EPS = float(np.spacing(1))
DEFAULT_SIGMA = 0.1  # DeepLabCut's default ``oks_sigma``, one value for every keypoint


def keypoint_box_area(keypoints: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Area ``w * h`` ``[...]`` of the tight box of the ``valid`` ``[..., K]`` keypoints ``[..., K, >=2]``.

    0 where no keypoint is valid (or a single one).
    """
    xy = keypoints[..., :2]
    mask = valid[..., None]
    low = torch.where(mask, xy, torch.inf).amin(dim=-2)
    high = torch.where(mask, xy, -torch.inf).amax(dim=-2)
    size = high - low
    return torch.where(valid.any(dim=-1), size[..., 0] * size[..., 1], 0.0)


def oks(preds: torch.Tensor, target: torch.Tensor, areas: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Object keypoint similarity ``[...]`` as pycocotools' ``COCOeval.computeOks``, in float64.

    ``mean over labeled k of exp(-d_k² / (2σ_k)² / (area + eps) / 2)`` with
    ``eps = np.spacing(1)``; only target keypoints with visibility > 0 count.

    Args:
        preds: ``[..., K, 2|3]`` predicted x, y (a third channel is ignored).
        target: ``[..., K, 3]`` x, y, visibility.
        areas: ``[...]`` the target's area (COCO: segment area; here usually the box area).
        sigmas: ``[K]`` per-keypoint OKS sigmas.

    Returns:
        OKS in [0, 1]; NaN where the target has no labeled keypoint (pycocotools
        would measure the distance to the ground truth's box, which we do not have).
    """
    labeled = target[..., 2] > 0
    delta = preds[..., :2].double() - target[..., :2].double()
    squared = delta[..., 0] ** 2 + delta[..., 1] ** 2
    variances = (sigmas.double().to(preds.device) * 2) ** 2
    e = squared / variances / (areas.double()[..., None] + EPS) / 2
    similarity = torch.where(labeled, torch.exp(-e), 0.0).sum(dim=-1)
    return similarity / labeled.sum(dim=-1)


def pairwise_oks(preds: torch.Tensor, target: torch.Tensor, areas: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """OKS ``[B, Np, Nt]`` of every prediction ``[B, Np, K, 2|3]`` with every target ``[B, Nt, K, 3]``.

    ``areas`` ``[B, Nt]`` belong to the targets; see :func:`oks`.
    """
    return oks(preds[:, :, None], target[:, None], areas[:, None], sigmas)


def _last_argmax(values: torch.Tensor) -> torch.Tensor:
    """Index of the *last* maximum along the last dim (pycocotools keeps the later of equal OKS)."""
    size = values.shape[-1]
    return size - 1 - values.flip(-1).argmax(dim=-1)


def greedy_match(
    ious: torch.Tensor, gt_ignore: torch.Tensor, det_valid: torch.Tensor, det_outside: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """pycocotools' ``evaluateImg`` matching, batched over images, area ranges and thresholds.

    Each detection, in descending score order, takes the unmatched ground truth
    with the highest OKS >= threshold, preferring regular ground truths over
    ignored ones (ties: the later slot).

    Args:
        ious: ``[B, D, G]`` OKS, detections sorted by descending score; NaN for absent ground truths.
        gt_ignore: ``[B, A, G]`` ground truths outside area range ``a``.
        det_valid: ``[B, D]`` real detections (not empty slots).
        det_outside: ``[B, A, D]`` detections outside area range ``a`` (ignored when unmatched).

    Returns:
        ``matched`` and ``ignored``, ``[B, D, A, T]`` booleans for T OKS thresholds.
    """
    batch, num_det, num_gt = ious.shape
    thresholds = OKS_THRESHOLDS.to(ious.device)[:, None]  # [T, 1]
    taken = torch.zeros(batch, gt_ignore.shape[1], len(OKS_THRESHOLDS), num_gt, dtype=torch.bool, device=ious.device)
    regular = ~gt_ignore[:, :, None]  # [B, A, 1, G]
    matched = torch.zeros(batch, num_det, *taken.shape[1:3], dtype=torch.bool, device=ious.device)
    ignored = torch.zeros_like(matched)
    slots = torch.arange(num_gt, device=ious.device)
    for d in range(num_det):  # sequential by nature: each detection takes what the earlier ones left
        iou = ious[:, d, None, None, :]  # [B, 1, 1, G]
        candidates = (iou >= thresholds) & ~taken & det_valid[:, d, None, None, None]
        use_regular = (candidates & regular).any(dim=-1)  # [B, A, T]
        candidates &= regular == use_regular[..., None]
        found = candidates.any(dim=-1)
        best = _last_argmax(torch.where(candidates, iou, -torch.inf))
        taken |= found[..., None] & (slots == best[..., None])
        matched[:, d] = found
        ignored[:, d] = (found & ~use_regular) | (~found & det_outside[:, :, d, None])
    return matched, ignored


def precision_recall(
    scores: torch.Tensor, matched: torch.Tensor, ignored: torch.Tensor, num_gt: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """pycocotools' ``accumulate``: AP (101-point interpolated) and recall, ``[A, T]`` each.

    Args:
        scores: ``[D]`` detection scores of all images, in image order.
        matched, ignored: ``[D, A, T]`` from :func:`greedy_match`.
        num_gt: ``[A]`` number of non-ignored ground truths per area range.

    Returns:
        ``(ap, recall)``; -1 for an area range without ground truth (as pycocotools).
    """
    order = torch.sort(scores, descending=True, stable=True).indices
    matched, ignored = matched[order].permute(1, 2, 0), ignored[order].permute(1, 2, 0)  # [A, T, D]
    tp = (matched & ~ignored).double().cumsum(dim=-1)
    fp = (~matched & ~ignored).double().cumsum(dim=-1)
    recall = tp / num_gt.double()[:, None, None]
    precision = tp / (fp + tp + EPS)
    precision = precision.flip(-1).cummax(dim=-1).values.flip(-1)  # the precision envelope
    num_det = scores.numel()
    thresholds = RECALL_THRESHOLDS.to(scores.device).expand(*recall.shape[:2], -1).contiguous()
    index = torch.searchsorted(recall.contiguous(), thresholds, side="left")
    if num_det:
        sampled = precision.gather(-1, index.clamp(max=num_det - 1))
        ap = torch.where(index < num_det, sampled, 0.0).mean(dim=-1)
        final_recall = recall[..., -1]
    else:
        ap = final_recall = torch.zeros(recall.shape[:2], dtype=torch.float64, device=scores.device)
    missing = (num_gt == 0)[:, None]
    return torch.where(missing, -1.0, ap), torch.where(missing, -1.0, final_recall)


def _check_shapes(
    preds: torch.Tensor, target: torch.Tensor, areas: torch.Tensor | None, scores: torch.Tensor | None
) -> None:
    if preds.ndim != 4 or preds.shape[-1] != 3:
        raise ValueError(f"preds must be [B, Np, K, 3] (x, y, score), got {tuple(preds.shape)}")
    if target.ndim != 4 or target.shape[-1] != 3:
        raise ValueError(f"target must be [B, Nt, K, 3] (x, y, visibility), got {tuple(target.shape)}")
    if preds.shape[0] != target.shape[0] or preds.shape[2] != target.shape[2]:
        raise ValueError(f"preds {tuple(preds.shape)} and target {tuple(target.shape)} disagree on B or K")
    if areas is not None and areas.shape != target.shape[:2]:
        raise ValueError(f"areas must be [B, Nt] = {tuple(target.shape[:2])}, got {tuple(areas.shape)}")
    if scores is not None and scores.shape != preds.shape[:2]:
        raise ValueError(f"scores must be [B, Np] = {tuple(preds.shape[:2])}, got {tuple(scores.shape)}")


def _cat(state: list[torch.Tensor] | torch.Tensor, empty: torch.Tensor) -> torch.Tensor:
    """A list state concatenated along dim 0 (after a DDP sync it is already one tensor)."""
    if isinstance(state, torch.Tensor):
        return state
    return torch.cat(state) if state else empty


class OKSMeanAveragePrecision(Metric):
    """OKS mean average precision and recall over images, as pycocotools' keypoint ``COCOeval``.

    ``update`` matches each image's predictions to its targets greedily by
    descending instance score at the OKS thresholds 0.50:0.05:0.95 and keeps the
    per-detection outcome; ``compute`` accumulates them with 101-point
    interpolated precision. The result equals COCOeval's ``stats`` for one
    category (maxDets = ``max_detections``) when the COCO json holds the same
    ground truths with the same ``area``:

    ``map`` (stats[0]), ``map_50``, ``map_75``, ``map_medium``, ``map_large``
    (stats[1:5]), ``mar``, ``mar_50``, ``mar_75``, ``mar_medium``, ``mar_large``
    (stats[5:10]); -1 where there is no ground truth (in that area range).
    Area ranges: medium 32²–96², large above 96² (pycocotools' in pixels²); a
    detection's own area, used there, is the box of all its keypoints.

    Args:
        sigmas: K per-keypoint OKS sigmas; None gives 0.1 for every keypoint
            (DeepLabCut's ``oks_sigma`` default; COCO's human sigmas are 0.025–0.107).
        max_detections: Predictions kept per image, highest scores first (COCO keypoints: 20).
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, sigmas: Sequence[float] | None = None, max_detections: int = 20) -> None:
        if sigmas is not None and (len(sigmas) == 0 or min(sigmas) <= 0):
            raise ValueError(f"sigmas must be K positive floats (or None for {DEFAULT_SIGMA}), got {sigmas}")
        if max_detections < 1:
            raise ValueError(f"max_detections must be >= 1, got {max_detections}")
        super().__init__()
        self.sigmas = None if sigmas is None else torch.tensor(list(sigmas), dtype=torch.float64)
        self.max_detections = max_detections
        for name in ("scores", "matched", "ignored", "num_gt"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(
        self,
        preds: torch.Tensor,
        target: torch.Tensor,
        areas: torch.Tensor | None = None,
        scores: torch.Tensor | None = None,
    ) -> None:
        """Match one batch of images.

        Args:
            preds: ``[B, Np, K, 3]`` x, y, keypoint score; all-zero slots are no prediction.
            target: ``[B, Nt, K, 3]`` x, y, visibility; slots without a labeled keypoint are left out.
            areas: ``[B, Nt]`` target areas (e.g. bbox ``w * h``); None: the area of the tight box
                of each target's labeled keypoints.
            scores: ``[B, Np]`` instance scores; None: the mean of the K keypoint scores.
        """
        _check_shapes(preds, target, areas, scores)
        preds = preds.detach()  # the stored scores must not keep a graph alive
        sigmas = self._sigmas(preds.shape[2]).to(preds.device)
        labeled = target[..., 2] > 0
        if areas is None:
            areas = keypoint_box_area(target.double(), labeled)
        scores = preds[..., 2].mean(dim=-1) if scores is None else scores.detach()
        present = (preds != 0).flatten(2).any(dim=-1)  # [B, Np]
        order = torch.sort(torch.where(present, scores.double(), -torch.inf), dim=1, descending=True, stable=True)
        keep = order.indices[:, : self.max_detections]
        ranked = preds.gather(1, keep[..., None, None].expand(-1, -1, *preds.shape[2:]))
        det_valid = present.gather(1, keep)
        ranges = torch.tensor(list(AREA_RANGES.values()), dtype=torch.float64, device=preds.device)  # [A, 2]
        det_area = keypoint_box_area(ranked.double(), torch.ones_like(ranked[..., 0], dtype=torch.bool))
        gt_ignore = _outside(areas.double(), ranges)
        matched, ignored = greedy_match(
            pairwise_oks(ranked, target, areas, sigmas), gt_ignore, det_valid, _outside(det_area, ranges)
        )
        self.scores.append(order.values[:, : self.max_detections][det_valid])
        self.matched.append(matched[det_valid])
        self.ignored.append(ignored[det_valid])
        self.num_gt.append((labeled.any(dim=-1)[:, None] & ~gt_ignore).sum(dim=-1))  # [B, A]

    def _sigmas(self, num_keypoints: int) -> torch.Tensor:
        if self.sigmas is None:
            return torch.full((num_keypoints,), DEFAULT_SIGMA, dtype=torch.float64)
        if len(self.sigmas) != num_keypoints:
            raise ValueError(f"sigmas has {len(self.sigmas)} values but the keypoints have K={num_keypoints}")
        return self.sigmas

    def compute(self) -> dict[str, torch.Tensor]:
        """The ten COCO keypoint summary numbers (see the class docstring), float32 scalars."""
        num_ranges, num_thresholds = len(AREA_RANGES), len(OKS_THRESHOLDS)
        flags = torch.zeros(0, num_ranges, num_thresholds, dtype=torch.bool, device=self.device)
        ap, recall = precision_recall(
            _cat(self.scores, torch.zeros(0, dtype=torch.float64, device=self.device)),
            _cat(self.matched, flags),
            _cat(self.ignored, flags),
            _cat(self.num_gt, torch.zeros(0, num_ranges, dtype=torch.long, device=self.device)).sum(dim=0),
        )
        results = {}
        for prefix, values in (("map", ap), ("mar", recall)):
            results[prefix] = values[0].mean()
            results[f"{prefix}_50"] = values[0, 0]
            results[f"{prefix}_75"] = values[0, 5]  # OKS_THRESHOLDS[5] == 0.75 exactly
            results[f"{prefix}_medium"] = values[1].mean()
            results[f"{prefix}_large"] = values[2].mean()
        return {name: value.float() for name, value in results.items()}


def _outside(areas: torch.Tensor, ranges: torch.Tensor) -> torch.Tensor:
    """``[B, A, N]``: whether each area ``[B, N]`` lies outside each range ``[A, 2]`` (bounds inside)."""
    areas = areas[:, None]
    return (areas < ranges[:, 0, None]) | (areas > ranges[:, 1, None])
