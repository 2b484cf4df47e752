"""Offline stitching: tracklets → the project's N identities, by one global assignment over gaps.

1. Gap closing (as in Jaqaman et al. 2008, "LAP tracking"): every tracklet end may link to
   a later tracklet start at most ``max_gap`` frames after it, or to nothing; all links are
   chosen together by one :func:`scipy.optimize.linear_sum_assignment` on
   :func:`link_cost` (motion and body shape). Links form chains.
2. Identities: chains, longest first, go to the identity whose neighbouring pieces they
   continue best (an identity is never in two places in one frame); a chain that fits no
   identity is split back into tracklets, placed the same way; what still does not fit
   (duplicate detections, spurious tracks) is dropped.
3. Gaps of at most ``interpolate_gap`` frames inside an identity are filled linearly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from lightning_pose_arch.tracking.base import empty_keypoints, valid_keypoints
from lightning_pose_arch.tracking.online import Tracklet

_UNLINKABLE = 1e9
_VELOCITY_FRAMES = 5  # frames at a tracklet's end that estimate its velocity
_MAX_EXTRAPOLATION = 10  # frames a velocity is carried over a gap; beyond, animals turn


@dataclass(frozen=True)
class StitchSettings:
    """See :class:`~lightning_pose_arch.tracking.KalmanTracker` for each."""

    score_threshold: float
    max_gap: int
    max_link_cost: float
    shape_weight: float
    min_length: int
    interpolate_gap: int


@dataclass(frozen=True)
class _Summary:
    """What linking needs of a tracklet: its first and last known keypoints, velocity, size and shape."""

    start: int
    end: int
    first: np.ndarray  # [K, 2] first known position of each keypoint (NaN: never seen)
    last: np.ndarray  # [K, 2] last known position of each keypoint
    velocity: np.ndarray  # [2] px/frame at the end
    size: float  # largest distance between two of its keypoints (median over frames)
    shape: np.ndarray  # [K·(K−1)/2] median distance between each pair of keypoints


def summarize(tracklet: Tracklet, score_threshold: float) -> _Summary:
    """The linking features of ``tracklet``."""
    valid = valid_keypoints(tracklet.keypoints, score_threshold)
    points = np.where(valid[..., None], tracklet.keypoints[..., :2], np.nan)
    seen = valid.any(axis=0)
    first = np.where(seen[:, None], points[valid.argmax(axis=0), np.arange(valid.shape[1])], np.nan)
    last_index = len(valid) - 1 - valid[::-1].argmax(axis=0)
    last = np.where(seen[:, None], points[last_index, np.arange(valid.shape[1])], np.nan)
    pairs = np.triu_indices(points.shape[1], k=1)
    distances = np.linalg.norm(points[:, pairs[0]] - points[:, pairs[1]], axis=-1)  # [L, P]
    shape = _nanmedian(distances, axis=0)
    widest = np.where(np.isnan(distances), -1.0, distances).max(axis=1, initial=-1.0)  # -1: under two keypoints
    size = float(np.median(widest[widest > 0])) if (widest > 0).any() else 1.0
    return _Summary(tracklet.start, tracklet.end, first, last, _end_velocity(tracklet.frames, points),
                    max(size, 1.0), shape)


def _end_velocity(frames: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Mean keypoint displacement per frame over the last few frames (0 with fewer than two)."""
    recent = slice(max(0, len(frames) - _VELOCITY_FRAMES), None)
    centers = _nanmean(points[recent], axis=1)  # [R, 2]
    known = ~np.isnan(centers).any(axis=-1)
    if known.sum() < 2:
        return np.zeros(2)
    times, centers = frames[recent][known], centers[known]
    return (centers[-1] - centers[0]) / max(times[-1] - times[0], 1)


def link_cost(a: _Summary, b: _Summary, shape_weight: float) -> float:
    """Cost of ``b`` continuing ``a`` (``b`` starts after ``a`` ends): motion + ``shape_weight`` × shape, unitless.

    Motion: mean distance between ``a``'s last keypoints carried forward at its end velocity
    (for at most 10 frames) and ``b``'s first ones, in units of ``a``'s body size × √gap.
    Shape: mean |log ratio| of the two tracklets' keypoint-pair distances.
    """
    gap = b.start - a.end
    predicted = a.last + a.velocity * min(gap, _MAX_EXTRAPOLATION)
    both = ~np.isnan(predicted).any(axis=-1) & ~np.isnan(b.first).any(axis=-1)
    if both.any():
        distance = float(np.linalg.norm(predicted[both] - b.first[both], axis=-1).mean())
    else:
        distance = float(np.linalg.norm(_nanmean(predicted, axis=0) - _nanmean(b.first, axis=0)))
    motion = np.nan_to_num(distance, nan=_UNLINKABLE) / (a.size * np.sqrt(max(gap, 1)))
    ratios = np.abs(np.log(np.clip(a.shape, 1e-3, None) / np.clip(b.shape, 1e-3, None)))
    shape = float(np.nanmean(ratios)) if np.isfinite(ratios).any() else 0.0
    return float(motion + shape_weight * shape)


def close_gaps(summaries: list[_Summary], settings: StitchSettings) -> list[list[int]]:
    """Chains of tracklet indices (in time order) from one global assignment of ends to starts."""
    count = len(summaries)
    links = np.full((count, count), _UNLINKABLE)
    for i, a in enumerate(summaries):
        for j, b in enumerate(summaries):
            if 0 < b.start - a.end <= settings.max_gap:
                cost = link_cost(a, b, settings.shape_weight)
                links[i, j] = cost if cost <= settings.max_link_cost else _UNLINKABLE
    no_link = np.where(np.eye(count, dtype=bool), settings.max_link_cost, _UNLINKABLE)
    linkable = links < _UNLINKABLE
    # [ends × starts | ends × "no link"] over ["no link" × starts | the dual block]: square and always solvable.
    matrix = np.block([[links, no_link], [no_link, np.where(linkable.T, links.min(initial=0.0), _UNLINKABLE)]])
    rows, cols = linear_sum_assignment(matrix)
    successor = {int(r): int(c) for r, c in zip(rows, cols) if r < count and c < count and linkable[r, c]}
    heads = sorted(set(range(count)) - set(successor.values()), key=lambda i: summaries[i].start)
    chains = []
    for head in heads:
        chain = [head]
        while chain[-1] in successor:
            chain.append(successor[chain[-1]])
        chains.append(chain)
    return chains


def assign_identities(
    summaries: list[_Summary], chains: list[list[int]], num_individuals: int, settings: StitchSettings
) -> list[list[int]]:
    """Tracklet indices of each of the N identities: chains longest first, each to its best free identity.

    An identity is free for a chain when none of its tracklets overlaps the chain's in time; among free
    ones, the chain goes where :func:`link_cost` to the identity's neighbouring tracklets (before and
    after) is lowest; an identity with no tracklet yet costs ``max_link_cost``. A chain that fits
    nowhere is split into its tracklets, placed one by one; a tracklet that fits nowhere is dropped.
    """
    identities: list[list[int]] = [[] for _ in range(num_individuals)]
    length = {i: s.end - s.start + 1 for i, s in enumerate(summaries)}
    for chain in sorted(chains, key=lambda c: -sum(length[i] for i in c)):
        if not _place(chain, identities, summaries, settings):
            for piece in sorted(chain, key=lambda i: -length[i]):
                _place([piece], identities, summaries, settings)
    return [sorted(members, key=lambda i: summaries[i].start) for members in identities]


def _place(chain: list[int], identities: list[list[int]], summaries: list[_Summary],
           settings: StitchSettings) -> bool:
    """Append ``chain`` to the free identity it continues best; ``False`` when none is free."""
    costs = [_continuation_cost(chain, members, summaries, settings) for members in identities]
    best = int(np.argmin(costs))
    if costs[best] == np.inf:
        return False
    identities[best].extend(chain)
    return True


def _continuation_cost(chain: list[int], members: list[int], summaries: list[_Summary],
                       settings: StitchSettings) -> float:
    spans = [(summaries[i].start, summaries[i].end) for i in chain]
    if any(s <= summaries[m].end and summaries[m].start <= e for s, e in spans for m in members):
        return np.inf
    if not members:
        return settings.max_link_cost
    first, last = summaries[chain[0]], summaries[chain[-1]]
    before = [summaries[m] for m in members if summaries[m].end < first.start]
    after = [summaries[m] for m in members if summaries[m].start > last.end]
    cost = 0.0
    if before:
        cost += link_cost(max(before, key=lambda s: s.end), first, settings.shape_weight)
    if after:
        cost += link_cost(last, min(after, key=lambda s: s.start), settings.shape_weight)
    return cost


def interpolate_gaps(keypoints: np.ndarray, max_gap: int, score_threshold: float) -> np.ndarray:
    """Fill runs of at most ``max_gap`` missing frames between two found ones linearly, per keypoint.

    ``keypoints [T, N, K, 3]``; a filled keypoint's score is the lower of its two ends' scores.
    """
    if max_gap <= 0 or len(keypoints) < 3:
        return keypoints
    valid = valid_keypoints(keypoints, score_threshold)  # [T, N, K]
    frames = np.arange(len(keypoints))[:, None, None]
    previous = np.maximum.accumulate(np.where(valid, frames, -1), axis=0)
    following = np.minimum.accumulate(np.where(valid, frames, len(keypoints))[::-1], axis=0)[::-1]
    fill = ~valid & (previous >= 0) & (following < len(keypoints)) & (following - previous - 1 <= max_gap)
    before = np.take_along_axis(keypoints, previous.clip(0)[..., None], axis=0)
    after = np.take_along_axis(keypoints, following.clip(None, len(keypoints) - 1)[..., None], axis=0)
    weight = ((frames - previous) / np.maximum(following - previous, 1))[..., None]
    filled = before + (after - before) * weight
    filled[..., 2] = np.minimum(before[..., 2], after[..., 2])
    return np.where(fill[..., None], filled, keypoints)


def stitch(tracklets: list[Tracklet], shape: tuple[int, int, int], settings: StitchSettings) -> np.ndarray:
    """Tracklets → identities ``[T, N, K, 3]`` (``shape`` = T, N, K; see the module docstring).

    Tracklets shorter than ``min_length`` frames are dropped first.
    """
    kept = [t for t in tracklets if len(t.frames) >= settings.min_length]
    num_frames, num_individuals, _ = shape
    out = empty_keypoints(shape)
    if not kept:
        return out
    summaries = [summarize(t, settings.score_threshold) for t in kept]
    identities = assign_identities(summaries, close_gaps(summaries, settings), num_individuals, settings)
    for identity, members in enumerate(identities):
        for index in members:
            out[kept[index].frames, identity] = kept[index].keypoints
    return interpolate_gaps(out, settings.interpolate_gap, settings.score_threshold)


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    present = ~np.isnan(values)
    return np.where(present, values, 0.0).sum(axis=axis) / np.where(present.any(axis=axis), present.sum(axis=axis),
                                                                     np.nan)


def _nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    filled = np.where(np.isnan(values).all(axis=axis, keepdims=True), 0.0, values)
    median = np.nanmedian(filled, axis=axis)
    return np.where(np.isnan(values).all(axis=axis), np.nan, median)
