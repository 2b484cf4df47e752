"""Grouping for part affinity field decoding: match peaks per edge, then merge connections into individuals.

Used by :class:`~lightning_pose_arch.models.predictors.paf.PartAffinityFieldPredictor`
after its batched peak finding and edge scoring; this step runs on the CPU,
one image at a time (``scipy.optimize.linear_sum_assignment`` has no batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

Matching = Literal["hungarian", "greedy"]


def match_edge(scores: np.ndarray, valid: np.ndarray, matching: Matching) -> list[tuple[int, int]]:
    """One-to-one candidate connections ``(i, j)`` of one edge, from ``scores [P1, P2]`` where ``valid``.

    ``"hungarian"`` maximizes the summed score over valid pairs
    (``linear_sum_assignment``; valid scores must be positive, as the
    predictor's ``min_edge_score >= 0`` makes them); ``"greedy"`` takes pairs by descending
    score while both ends are free (OpenPose). Pairs not ``valid`` are never
    returned.
    """
    if not valid.any():
        return []
    if matching == "hungarian":
        # Leaving a pair out gains 0, taking a valid one gains its (positive) score: the optimal
        # assignment is a maximum-weight matching; invalid pairs it pads with are dropped.
        rows, cols = linear_sum_assignment(np.where(valid, -scores, 0.0))
        return [(int(i), int(j)) for i, j in zip(rows, cols) if valid[i, j]]
    order = np.argsort(-np.where(valid, scores, -np.inf), axis=None, kind="stable")[: int(valid.sum())]
    used_i, used_j, pairs = set(), set(), []
    for flat in order:
        i, j = divmod(int(flat), scores.shape[1])
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            pairs.append((i, j))
    return pairs


def assemble(
    peak_scores: np.ndarray,
    peak_valid: np.ndarray,
    edges: Sequence[tuple[int, int]],
    edge_scores: np.ndarray,
    edge_valid: np.ndarray,
    matching: Matching,
    keep_singletons: bool,
) -> list[tuple[np.ndarray, float]]:
    """Individuals of one image, best first: ``(peak index per keypoint [K] (-1: none), score)``.

    Args:
        peak_scores: ``[K, P]`` heatmap value of each peak.
        peak_valid: ``[K, P]`` the peak exists (a local maximum above threshold).
        edges: ``E`` keypoint index pairs.
        edge_scores: ``[E, P, P]`` affinity of each (peak of k1, peak of k2) pair.
        edge_valid: ``[E, P, P]`` the pair may be connected.
        matching: Per-edge matching, see :func:`match_edge`.
        keep_singletons: Peaks that join no individual become one-keypoint individuals (else dropped).

    Connections of all edges are merged by descending score: a connection
    joins its two peaks' individuals unless both already hold a (different)
    peak for the same keypoint, in which case it is skipped. With redundant
    edges (the complete graph) a wrong connection thus usually finds its
    keypoints already taken by stronger right ones.
    An individual's score is the mean of its keypoints' peak scores and its
    accepted connections' scores.
    """
    connections = [
        (float(edge_scores[e, i, j]), k1, i, k2, j)
        for e, (k1, k2) in enumerate(edges)
        for i, j in match_edge(edge_scores[e], edge_valid[e], matching)
    ]
    connections.sort(key=lambda c: -c[0])
    groups = _Groups(num_keypoints=peak_scores.shape[0], num_peaks=peak_scores.shape[1])
    for score, k1, i, k2, j in connections:
        groups.connect(k1, i, k2, j, score)
    if keep_singletons:
        for k, p in zip(*np.nonzero(peak_valid & (groups.node_group < 0))):
            groups.new_group([(int(k), int(p))], 0.0, 0)
    individuals = []
    for members, connection_sum, num_connections in zip(groups.members, groups.score_sum, groups.num_connections):
        present = members >= 0
        if not present.any():  # emptied by a merge
            continue
        keypoint_sum = peak_scores[np.nonzero(present)[0], members[present]].sum()
        individuals.append((members, float(keypoint_sum + connection_sum) / (present.sum() + num_connections)))
    return sorted(individuals, key=lambda item: -item[1])


class _Groups:
    """Individuals under construction: each holds at most one peak per keypoint."""

    def __init__(self, num_keypoints: int, num_peaks: int) -> None:
        self.num_keypoints = num_keypoints
        self.node_group = np.full((num_keypoints, num_peaks), -1)  # group of peak p of keypoint k
        self.members: list[np.ndarray] = []  # per group: peak index per keypoint, -1 when none
        self.score_sum: list[float] = []
        self.num_connections: list[int] = []

    def new_group(self, nodes: list[tuple[int, int]], score: float, num_connections: int) -> None:
        members = np.full(self.num_keypoints, -1)
        for k, p in nodes:
            members[k] = p
            self.node_group[k, p] = len(self.members)
        self.members.append(members)
        self.score_sum.append(score)
        self.num_connections.append(num_connections)

    def connect(self, k1: int, i: int, k2: int, j: int, score: float) -> None:
        """Join peak ``i`` of keypoint ``k1`` and peak ``j`` of ``k2`` if no keypoint would get two peaks."""
        g1, g2 = int(self.node_group[k1, i]), int(self.node_group[k2, j])
        if g1 < 0 and g2 < 0:
            self.new_group([(k1, i), (k2, j)], score, 1)
            return
        if g1 < 0 or g2 < 0:
            group, (k, p) = (g2, (k1, i)) if g1 < 0 else (g1, (k2, j))
            if self.members[group][k] >= 0:
                return
            self.members[group][k] = p
            self.node_group[k, p] = group
        elif g1 != g2:
            if ((self.members[g1] >= 0) & (self.members[g2] >= 0)).any():
                return
            group, other = min(g1, g2), max(g1, g2)
            moved = self.members[other] >= 0
            self.members[group][moved] = self.members[other][moved]
            self.node_group[np.nonzero(moved)[0], self.members[other][moved]] = group
            self.score_sum[group] += self.score_sum[other]
            self.num_connections[group] += self.num_connections[other]
            self.members[other] = np.full(self.num_keypoints, -1)
            self.score_sum[other], self.num_connections[other] = 0.0, 0
        group = int(self.node_group[k1, i])
        self.score_sum[group] += score
        self.num_connections[group] += 1
