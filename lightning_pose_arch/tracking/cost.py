"""Association costs between predicted tracks and detections: keypoint similarity (OKS) and box overlap.

All functions are vectorized over tracks ``J`` and detections ``D``.
"""

from __future__ import annotations

import warnings

import numpy as np

MIN_AREA = 16.0  # px², so a detection of one or two keypoints still has a scale for OKS


def keypoint_boxes(points: np.ndarray, valid: np.ndarray, padding: float) -> np.ndarray:
    """``points [..., K, 2]``, ``valid [..., K]`` → boxes ``[..., 4]`` x0, y0, x1, y1 of the valid keypoints,
    grown by ``padding`` px on each side; NaN where no keypoint is valid."""
    masked = np.where(valid[..., None], points, np.nan)
    with warnings.catch_warnings():  # an all-NaN slice warns: it just means "no box"
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanmin(masked, axis=-2), np.nanmax(masked, axis=-2)
    return np.concatenate([low - padding, high + padding], axis=-1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU ``[J, D]`` of boxes ``a [J, 4]`` and ``b [D, 4]`` (x0, y0, x1, y1); 0 where either is NaN."""
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=-1)
    area_a, area_b = np.prod(a[:, 2:] - a[:, :2], axis=-1), np.prod(b[:, 2:] - b[:, :2], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / (area_a[:, None] + area_b[None] - inter)
    return np.nan_to_num(iou, nan=0.0)


def oks(
    tracks: np.ndarray, track_valid: np.ndarray, detections: np.ndarray, detection_valid: np.ndarray,
    areas: np.ndarray, sigma: float,
) -> np.ndarray:
    """Object keypoint similarity ``[J, D]``, averaged over each detection's valid keypoints.

    ``tracks [J, K, 2]``, ``detections [D, K, 2]``, ``areas [J]`` (the track's box area, px²).
    COCO's form with one ``sigma`` for every keypoint: ``exp(-d² / (2 · area · (2σ)²))``. A
    keypoint the track has not seen counts as dissimilar (0), so a young track that knows two
    keypoints of one animal does not claim another animal's detection on one chance match.
    """
    both = track_valid[:, None] & detection_valid[None]
    squared = np.sum((tracks[:, None] - detections[None]) ** 2, axis=-1)
    scale = 2 * np.maximum(areas, MIN_AREA)[:, None, None] * (2 * sigma) ** 2
    similarity = np.where(both, np.exp(-np.nan_to_num(squared, nan=np.inf) / scale), 0.0)
    return similarity.sum(axis=-1) / np.maximum(detection_valid.sum(axis=-1), 1)[None]

