"""Constant-velocity Kalman filters for every keypoint of every track, run as array operations."""

from __future__ import annotations

import numpy as np


class KeypointKalman:
    """One constant-velocity filter per keypoint coordinate of J tracks, updated together.

    State per track and keypoint: position ``[2]`` and velocity ``[2]``; x and y share
    one 2×2 covariance (same noise, same missing pattern), kept as ``(p_pp, p_pv, p_vv)``.
    The process noise is a white acceleration of variance ``process_noise`` (px²/frame⁴),
    the measurement noise ``measurement_noise`` (px²). A keypoint the track has not seen
    yet has NaN position; when it first appears, it starts with the track's mean velocity.

    Args:
        num_keypoints: K.
        process_noise: Acceleration variance.
        measurement_noise: Keypoint position variance.
        initial_velocity_variance: Velocity variance of a new keypoint (px²/frame²).
    """

    def __init__(self, num_keypoints: int, process_noise: float, measurement_noise: float,
                 initial_velocity_variance: float = 25.0) -> None:
        self.q, self.r, self.v0 = process_noise, measurement_noise, initial_velocity_variance
        self.position = np.empty((0, num_keypoints, 2))
        self.velocity = np.empty((0, num_keypoints, 2))
        self.covariance = np.empty((0, num_keypoints, 3))

    def __len__(self) -> int:
        return len(self.position)

    def add(self, points: np.ndarray, valid: np.ndarray) -> None:
        """Start tracks from ``points [D, K, 2]`` (``valid [D, K]``): at rest, uncertain velocity."""
        position = np.where(valid[..., None], points, np.nan)
        covariance = np.broadcast_to([self.r, 0.0, self.v0], (*valid.shape, 3))
        self.position = np.concatenate([self.position, position])
        self.velocity = np.concatenate([self.velocity, np.zeros_like(position)])
        self.covariance = np.concatenate([self.covariance, covariance])

    def remove(self, keep: np.ndarray) -> None:
        """Keep only the tracks where ``keep [J]`` is true."""
        self.position, self.velocity, self.covariance = (a[keep] for a in (self.position, self.velocity,
                                                                           self.covariance))

    def predict(self) -> None:
        """Advance every track one frame."""
        self.position = self.position + self.velocity
        p_pp, p_pv, p_vv = np.moveaxis(self.covariance, -1, 0)
        self.covariance = np.stack([p_pp + 2 * p_pv + p_vv + self.q / 4, p_pv + p_vv + self.q / 2,
                                    p_vv + self.q], axis=-1)

    def update(self, rows: np.ndarray, points: np.ndarray, valid: np.ndarray) -> None:
        """Correct tracks ``rows [D]`` with measurements ``points [D, K, 2]`` where ``valid [D, K]``."""
        position, velocity, covariance = self.position[rows], self.velocity[rows], self.covariance[rows]
        new = valid & np.isnan(position).any(axis=-1)
        mean_velocity = _nanmean_keypoints(np.where(np.isnan(position), np.nan, velocity))
        position = np.where(new[..., None], points, position)
        velocity = np.where(new[..., None], mean_velocity[:, None], velocity)
        covariance = np.where(new[..., None], [self.r, 0.0, self.v0], covariance)
        seen = valid & ~new
        p_pp, p_pv, p_vv = np.moveaxis(covariance, -1, 0)
        gain_p, gain_v = p_pp / (p_pp + self.r), p_pv / (p_pp + self.r)
        innovation = np.where(seen[..., None], points - position, 0.0)
        position = position + gain_p[..., None] * innovation
        velocity = velocity + gain_v[..., None] * innovation
        corrected = np.stack([(1 - gain_p) * p_pp, (1 - gain_p) * p_pv, p_vv - gain_v * p_pv], axis=-1)
        self.position[rows], self.velocity[rows] = position, velocity
        self.covariance[rows] = np.where(seen[..., None], corrected, covariance)


def _nanmean_keypoints(values: np.ndarray) -> np.ndarray:
    """``[D, K, 2]`` → ``[D, 2]`` mean over the non-NaN keypoints (0 where there is none)."""
    present = ~np.isnan(values).any(axis=-1)
    total = np.where(present[..., None], values, 0.0).sum(axis=1)
    return total / np.maximum(present.sum(axis=1), 1)[:, None]
