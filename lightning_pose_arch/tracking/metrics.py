"""MOT metrics of tracked keypoints against ground-truth identities (py-motmetrics: the ``bench`` extra)."""

from __future__ import annotations

import numpy as np

METRICS = ("mota", "idf1", "num_switches", "num_false_positives", "num_misses", "num_frames")


def mot_summary(truth: np.ndarray, tracked: np.ndarray, max_distance: float) -> dict[str, float]:
    """MOTA, IDF1, identity switches, false positives, misses and frames of ``tracked [T, N', K, 3]``
    (x, y, score; NaN: missing) against ``truth [T, N, K, 3]`` (x, y, visibility).

    A true animal counts in a frame when at least two of its keypoints are inside it
    (visibility > 0); a tracked one matches it when their mean distance over the keypoints
    both have is at most ``max_distance`` px.
    """
    try:
        import motmetrics
    except ImportError as err:
        raise ImportError("MOT metrics need py-motmetrics: pip install 'lightning_pose_arch[bench]'") from err
    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    for truth_frame, tracked_frame in zip(truth, tracked):
        present = np.flatnonzero((truth_frame[..., 2] > 0).sum(axis=-1) >= 2)
        found = np.flatnonzero(np.isfinite(tracked_frame[..., :2]).all(axis=-1).any(axis=-1))
        points = np.where(truth_frame[present, :, 2:] > 0, truth_frame[present, :, :2], np.nan)
        distance = np.linalg.norm(points[:, None] - tracked_frame[None, found, :, :2], axis=-1)  # [G, H, K]
        shared = np.isfinite(distance).sum(axis=-1)
        mean = np.where(shared > 0, np.nan_to_num(distance).sum(axis=-1) / np.maximum(shared, 1), np.nan)
        accumulator.update(present.tolist(), found.tolist(), np.where(mean <= max_distance, mean, np.nan))
    summary = motmetrics.metrics.create().compute(accumulator, metrics=list(METRICS), name="run")
    return {name: float(summary[name].iloc[0]) for name in METRICS}


def body_length(truth: np.ndarray) -> float:
    """Median over animals and frames of the largest distance between two keypoints, px."""
    points = truth[..., :2]
    return float(np.median(np.linalg.norm(points[:, :, :, None] - points[:, :, None], axis=-1).max(axis=(-1, -2))))
