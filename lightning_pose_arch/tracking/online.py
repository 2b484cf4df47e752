"""Online association: detections → tracklets, frame by frame (Kalman prediction + optimal assignment)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from lightning_pose_arch.tracking.base import valid_keypoints
from lightning_pose_arch.tracking.cost import box_iou, keypoint_boxes, oks
from lightning_pose_arch.tracking.kalman import KeypointKalman


@dataclass(frozen=True)
class Tracklet:
    """One track's detections: ``frames [L]`` (increasing) and ``keypoints [L, K, 3]`` as detected."""

    frames: np.ndarray
    keypoints: np.ndarray

    @property
    def start(self) -> int:
        return int(self.frames[0])

    @property
    def end(self) -> int:
        return int(self.frames[-1])


@dataclass(frozen=True)
class AssociationSettings:
    """Thresholds of :func:`associate`; see :class:`~lightning_pose_arch.tracking.KalmanTracker` for each."""

    score_threshold: float
    min_keypoints: int
    birth_score: float
    max_age: int
    oks_sigma: float
    box_weight: float
    box_padding: float
    max_cost: float
    process_noise: float
    measurement_noise: float


def associate(detections: np.ndarray, settings: AssociationSettings) -> list[Tracklet]:
    """``detections [T, M, K, 3]`` → tracklets, in the order they were born.

    Each frame: predict every live track one frame ahead, match tracks to the
    frame's usable detections (at least ``min_keypoints`` keypoints over
    ``score_threshold``) by :func:`scipy.optimize.linear_sum_assignment` on
    :func:`association_cost`, keep matches whose cost is at most ``max_cost``,
    start a track from each unmatched detection whose mean keypoint score
    reaches ``birth_score``, and end tracks unmatched for more than ``max_age`` frames.
    """
    num_frames, _, num_keypoints, _ = detections.shape
    kalman = KeypointKalman(num_keypoints, settings.process_noise, settings.measurement_noise)
    live_ids, ages = np.empty(0, np.int64), np.empty(0, np.int64)
    observed: list[list[tuple[int, np.ndarray]]] = []
    for frame in range(num_frames):
        valid = valid_keypoints(detections[frame], settings.score_threshold)
        usable = valid.sum(axis=-1) >= settings.min_keypoints
        points, valid = detections[frame, usable], valid[usable]
        kalman.predict()
        cost = association_cost(kalman.position, points[..., :2], valid, settings)
        rows, cols = linear_sum_assignment(cost) if cost.size else (np.empty(0, int), np.empty(0, int))
        accepted = cost[rows, cols] <= settings.max_cost
        rows, cols = rows[accepted], cols[accepted]
        absorbed = absorb_parts(points, valid, cost, rows, cols, settings.max_cost)
        kalman.update(rows, points[cols, :, :2], valid[cols])
        ages = ages + 1
        ages[rows] = 0
        for row, col in zip(rows, cols):
            observed[live_ids[row]].append((frame, points[col]))
        born = np.setdiff1d(np.arange(len(points)), np.concatenate([cols, absorbed]))
        born = born[np.where(valid[born], points[born, :, 2], 0.0).mean(axis=-1) >= settings.birth_score]
        kalman.add(points[born, :, :2], valid[born])
        for col in born:
            observed.append([(frame, points[col])])
        live_ids = np.concatenate([live_ids, np.arange(len(observed) - len(born), len(observed))])
        ages = np.concatenate([ages, np.zeros(len(born), np.int64)])
        alive = ages <= settings.max_age
        kalman.remove(alive)
        live_ids, ages = live_ids[alive], ages[alive]
    return [Tracklet(np.array([f for f, _ in obs]), np.stack([k for _, k in obs])) for obs in observed]


def absorb_parts(points: np.ndarray, valid: np.ndarray, cost: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                 max_cost: float) -> np.ndarray:
    """Merge, in place, each unmatched detection into the matched detection of the track it fits best
    (``cost [J, D]`` at most ``max_cost``) when the two share no keypoint: bottom-up grouping can split
    one animal into parts (head and tail), and the part would otherwise start a second track on the same
    animal. ``points [D, K, 3]``, ``valid [D, K]``; ``rows``/``cols``: the matches. Returns the merged
    detections' indices."""
    absorbed = []
    for part in np.setdiff1d(np.arange(len(points)), cols):
        fits = (cost[rows, part] <= max_cost) & ~(valid[cols] & valid[part]).any(axis=-1)
        if fits.any():
            whole = cols[np.flatnonzero(fits)[np.argmin(cost[rows[fits], part])]]
            points[whole, valid[part]] = points[part, valid[part]]
            valid[whole] |= valid[part]
            absorbed.append(part)
    return np.array(absorbed, dtype=np.int64)


def association_cost(
    predicted: np.ndarray, points: np.ndarray, valid: np.ndarray, settings: AssociationSettings
) -> np.ndarray:
    """``[J, D]`` cost ``1 − ((1 − w) · OKS + w · IoU)`` between predicted tracks ``[J, K, 2]`` (NaN: unknown
    keypoint) and detections ``[D, K, 2]`` (``valid [D, K]``); ``w`` = ``box_weight``, boxes padded by ``box_padding``.
    A pair without a keypoint known to both costs 1 (never matched)."""
    track_valid = ~np.isnan(predicted).any(axis=-1)
    track_boxes = keypoint_boxes(predicted, track_valid, settings.box_padding)
    boxes = keypoint_boxes(points, valid, settings.box_padding)
    areas = np.nan_to_num(np.prod(track_boxes[:, 2:] - track_boxes[:, :2], axis=-1))
    similarity = oks(predicted, track_valid, points, valid, areas, settings.oks_sigma)
    overlap = box_iou(track_boxes, boxes)
    shared = (track_valid[:, None] & valid[None]).any(axis=-1)  # boxes of different body parts may overlap
    return np.where(shared, 1.0 - ((1 - settings.box_weight) * similarity + settings.box_weight * overlap), 1.0)
