"""MOT metrics on a hand-made case, and the tracker's acceptance figure on a generated 1000-frame video."""

from __future__ import annotations

import numpy as np
import pytest

from lightning_pose_arch.data.synthetic_video import make_tracking_video, noisy_detections
from lightning_pose_arch.tracking import KalmanTracker
from lightning_pose_arch.tracking.metrics import body_length, mot_summary

pytest.importorskip("motmetrics")


def test_swapped_columns_in_the_last_frame_cost_two_switches():
    truth = np.zeros((3, 2, 2, 3))
    truth[:, 0, :, :2], truth[:, 1, :, :2] = [[0, 0], [10, 0]], [[100, 0], [110, 0]]
    truth[..., 2] = 2
    tracked = truth.copy()
    tracked[2] = tracked[2, ::-1]
    summary = mot_summary(truth, tracked, max_distance=5.0)
    assert summary["num_switches"] == 2 and summary["num_misses"] == 0 and summary["num_false_positives"] == 0
    assert summary["mota"] == pytest.approx(1 - 2 / 6) and summary["idf1"] == pytest.approx(8 / 12)
    assert body_length(truth) == 10.0


@pytest.mark.slow
def test_tracker_alone_on_a_generated_video_with_ten_crossings():
    """3 animals, 1000 frames, keypoint noise σ = 2 px, 10 % of detections and keypoints dropped."""
    video = make_tracking_video(num_frames=1000, num_animals=3, seed=0)
    assert video.crossings >= 10
    detections = noisy_detections(video.keypoints, np.random.default_rng(0), noise=2.0)
    summary = mot_summary(video.keypoints, KalmanTracker().track(detections, 3), 0.5 * body_length(video.keypoints))
    assert summary["idf1"] >= 0.95 and summary["num_switches"] <= 2
