"""Registered trackers."""

from __future__ import annotations

import numpy as np

from lightning_pose_arch.tracking.base import TRACKERS, BaseTracker, check_detections, empty_keypoints
from lightning_pose_arch.tracking.online import AssociationSettings, Tracklet, associate
from lightning_pose_arch.tracking.stitch import StitchSettings, stitch


@TRACKERS.register
class KalmanTracker(BaseTracker):
    """Online Kalman + optimal-assignment tracking, then offline stitching into the N individuals.

    ``track(detections [T, M, K, 3]) → [T, N, K, 3]``. Works on any multi-animal output:
    bottom-up (DEKR, PAF: M = the predictor's ``max_individuals`` slots, unused ones empty)
    or top-down (one detection per crop). Keypoints are ``(x, y, score)``; NaN coordinates
    or a score under ``score_threshold`` mean "missing", and a frame may have no detection.

    Online (:func:`~lightning_pose_arch.tracking.online.associate`): each track has a
    constant-velocity Kalman filter per keypoint; each frame, tracks and detections are
    matched by :func:`scipy.optimize.linear_sum_assignment` on ``1 − ((1 − box_weight)·OKS
    + box_weight·IoU)`` between predicted and detected keypoints and their boxes.
    Offline (:func:`~lightning_pose_arch.tracking.stitch.stitch`): tracklets are linked over
    gaps by one global assignment on motion and body shape, placed into N identities, and
    short gaps are interpolated.

    Args:
        score_threshold: Keypoints scored below it count as missing.
        min_keypoints: A detection needs at least this many keypoints to be used.
        birth_score: Mean keypoint score an unmatched detection needs to start a track.
        max_age: Frames a track lives on (predicted) without a match before it ends.
        oks_sigma: Keypoint sigma of the OKS term (a fraction of the animal's box scale, as COCO's).
        box_weight: Weight of box IoU against OKS in the association cost, in [0, 1].
        box_padding: Pixels added around keypoint boxes (so thin or one-keypoint boxes overlap).
        max_cost: Matches costing more (in [0, 1]; 1 = nothing in common) are refused.
        process_noise: Kalman acceleration variance (px²/frame⁴): how fast animals change speed.
        measurement_noise: Kalman keypoint position variance (px²): the detector's error.
        stitch: Link tracklets into the N individuals; ``false``: each tracklet takes the
            first identity free for its whole span (no linking over gaps by motion or shape).
        max_gap: Longest gap (frames) a link between tracklets may bridge.
        max_link_cost: Links costing more are not made (motion in body sizes / √gap, plus shape).
        shape_weight: Weight of the body-shape difference (mean |log| keypoint-distance ratio) in links.
        min_length: Tracklets with fewer frames are dropped before stitching (spurious detections).
        interpolate_gap: Fill gaps up to this many frames linearly (0: never).
    """

    def __init__(
        self, score_threshold: float = 0.1, min_keypoints: int = 2, birth_score: float = 0.3, max_age: int = 10,
        oks_sigma: float = 0.1, box_weight: float = 0.3, box_padding: float = 5.0, max_cost: float = 0.9,
        process_noise: float = 4.0, measurement_noise: float = 4.0, stitch: bool = True, max_gap: int = 300,
        max_link_cost: float = 2.0, shape_weight: float = 1.0, min_length: int = 3, interpolate_gap: int = 5,
    ) -> None:
        checks = {"box_weight": 0 <= box_weight <= 1, "max_cost": 0 <= max_cost <= 1, "min_keypoints": min_keypoints >= 1,
                  "max_age": max_age >= 0, "oks_sigma": oks_sigma > 0, "process_noise": process_noise >= 0,
                  "measurement_noise": measurement_noise > 0, "max_gap": max_gap >= 1, "min_length": min_length >= 1,
                  "interpolate_gap": interpolate_gap >= 0, "max_link_cost": max_link_cost > 0}
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"KalmanTracker {name}={locals()[name]!r} is out of range "
                                 "(see the KalmanTracker docstring for valid values)")
        self.association = AssociationSettings(score_threshold, min_keypoints, birth_score, max_age, oks_sigma,
                                               box_weight, box_padding, max_cost, process_noise, measurement_noise)
        self.stitching = StitchSettings(score_threshold, max_gap, max_link_cost, shape_weight, min_length,
                                        interpolate_gap)
        self.stitch = stitch

    def track(self, detections: np.ndarray, num_individuals: int) -> np.ndarray:
        check_detections(detections, num_individuals)
        detections = np.asarray(detections, dtype=np.float64)
        tracklets = associate(detections, self.association)
        shape = (detections.shape[0], num_individuals, detections.shape[2])
        if self.stitch:
            return stitch(tracklets, shape, self.stitching)
        return first_free_identity(tracklets, shape)


def first_free_identity(tracklets: list[Tracklet], shape: tuple[int, int, int]) -> np.ndarray:
    """Each tracklet, in birth order, into the first identity free over its whole span; others dropped."""
    out = empty_keypoints(shape)
    busy_until = np.full(shape[1], -1)
    for tracklet in tracklets:
        free = np.flatnonzero(busy_until < tracklet.start)
        if len(free):
            out[tracklet.frames, free[0]] = tracklet.keypoints
            busy_until[free[0]] = tracklet.end
    return out
