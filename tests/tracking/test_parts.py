"""The tracker's parts on hand-made numbers: costs, Kalman filter, gap filling, stitching links, configs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lightning_pose_arch.registry import ConfigError
from lightning_pose_arch.tracking import TRACKERS, KalmanTracker, build_tracker
from lightning_pose_arch.tracking.cost import box_iou, keypoint_boxes, oks
from lightning_pose_arch.tracking.kalman import KeypointKalman
from lightning_pose_arch.tracking.stitch import interpolate_gaps


def test_box_iou_and_keypoint_boxes():
    a = np.array([[0.0, 0.0, 2.0, 2.0]])
    b = np.array([[1.0, 1.0, 3.0, 3.0], [5.0, 5.0, 6.0, 6.0], [np.nan] * 4])
    np.testing.assert_allclose(box_iou(a, b), [[1 / 7, 0.0, 0.0]])
    points = np.array([[[1.0, 2.0], [3.0, 7.0], [100.0, 100.0]]])
    boxes = keypoint_boxes(points, np.array([[True, True, False]]), padding=1.0)
    np.testing.assert_allclose(boxes, [[0.0, 1.0, 4.0, 8.0]])
    assert np.isnan(keypoint_boxes(points, np.zeros((1, 3), bool), padding=1.0)).all()


def test_oks_averages_over_the_detections_keypoints_and_unknown_track_keypoints_count_zero():
    track = np.array([[[0.0, 0.0], [10.0, 0.0]]])
    detection = np.array([[[0.0, 0.0], [13.0, 4.0]], [[50.0, 0.0], [0.0, 0.0]]])
    similarity = oks(track, np.array([[True, True]]), detection, np.array([[True, True], [True, False]]),
                     areas=np.array([100.0]), sigma=0.1)
    expected_first = (1 + np.exp(-25 / (2 * 100 * 0.04))) / 2
    np.testing.assert_allclose(similarity, [[expected_first, np.exp(-2500 / 8)]])
    assert oks(track, np.zeros((1, 2), bool), detection, np.ones((2, 2), bool), np.array([100.0]), 0.1).max() == 0
    young = oks(track, np.array([[True, False]]), detection[:1], np.array([[True, True]]), np.array([100.0]), 0.1)
    np.testing.assert_allclose(young, [[0.5]])  # the snout matches exactly, the unseen keypoint counts 0


def test_kalman_learns_a_constant_velocity_and_keeps_unseen_keypoints_unknown():
    kalman = KeypointKalman(num_keypoints=2, process_noise=0.01, measurement_noise=1.0)
    kalman.add(np.array([[[0.0, 0.0], [5.0, 5.0]]]), np.array([[True, False]]))
    for frame in range(1, 30):
        kalman.predict()
        kalman.update(np.array([0]), np.array([[[2.0 * frame, -1.0 * frame], [0.0, 0.0]]]), np.array([[True, False]]))
    kalman.predict()
    np.testing.assert_allclose(kalman.position[0, 0], [60.0, -30.0], atol=0.05)
    np.testing.assert_allclose(kalman.velocity[0, 0], [2.0, -1.0], atol=0.01)
    assert np.isnan(kalman.position[0, 1]).all()
    kalman.update(np.array([0]), np.array([[[60.0, -30.0], [70.0, -20.0]]]), np.array([[True, True]]))
    np.testing.assert_allclose(kalman.position[0, 1], [70.0, -20.0])  # a new keypoint starts where it is seen
    np.testing.assert_allclose(kalman.velocity[0, 1], [2.0, -1.0], atol=1e-4)  # moving with its track
    kalman.remove(np.array([False]))
    assert len(kalman) == 0


def test_interpolate_gaps_fills_only_short_gaps_between_found_frames():
    keypoints = np.full((10, 1, 1, 3), np.nan)
    keypoints[..., 2] = 0.0
    keypoints[[0, 3, 9], 0, 0] = [[0.0, 0.0, 0.9], [3.0, 6.0, 0.6], [9.0, 9.0, 0.8]]
    filled = interpolate_gaps(keypoints, max_gap=2, score_threshold=0.1)
    np.testing.assert_allclose(filled[:4, 0, 0], [[0, 0, 0.9], [1, 2, 0.6], [2, 4, 0.6], [3, 6, 0.6]])
    assert np.isnan(filled[4:9, 0, 0, :2]).all()  # a gap of 5 > 2 stays
    np.testing.assert_array_equal(interpolate_gaps(keypoints, 0, 0.1), keypoints)


def test_build_tracker_from_names_dicts_text_and_files(tmp_path):
    assert build_tracker("none") is None and build_tracker("None") is None
    assert isinstance(build_tracker(None), KalmanTracker) and "KalmanTracker" in TRACKERS
    assert build_tracker("{type: KalmanTracker, max_gap: 7}").stitching.max_gap == 7
    path = tmp_path / "tracker.json"
    path.write_text(json.dumps({"type": "KalmanTracker", "max_age": 3}))
    assert build_tracker(path).association.max_age == 3
    assert build_tracker(str(path)).association.max_age == 3


@pytest.mark.parametrize(("spec", "message"), [
    ("KalmanTraker", "neither a tracker name"),
    ("{type: KalmanTraker}", "did you mean 'KalmanTracker'"),
    ("{type: KalmanTracker, max_gapp: 3}", "did you mean 'max_gap'"),
    ({"type": "KalmanTracker", "max_gap": "long"}, "max_gap must be int"),
])
def test_bad_tracker_configs_name_the_problem(spec, message):
    with pytest.raises(ConfigError, match=message):
        build_tracker(spec)


def test_out_of_range_settings_are_rejected():
    with pytest.raises(ValueError, match=r"box_weight=1.5 is out of range"):
        KalmanTracker(box_weight=1.5)
