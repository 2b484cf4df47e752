"""Synthetic tracking videos: ground truth, crossings, the bundled example, simulated detections."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lightning_pose_arch.data.synthetic import MARKER_COLORS
from lightning_pose_arch.data.synthetic_video import (
    EXAMPLE_SETTINGS,
    count_crossings,
    example_tracking_video,
    make_tracking_video,
    noisy_detections,
    read_ground_truth,
)


@pytest.fixture(scope="module")
def video():
    return make_tracking_video(num_frames=40, num_animals=3, seed=1)


def test_same_seed_same_video_and_shapes(video):
    again = make_tracking_video(num_frames=40, num_animals=3, seed=1)
    np.testing.assert_array_equal(again.keypoints, video.keypoints)
    np.testing.assert_array_equal(again.frames, video.frames)
    assert video.frames.shape == (40, 160, 192, 3) and video.keypoints.shape == (40, 3, 7, 3)
    assert video.individuals == ["animal1", "animal2", "animal3"]


def test_visibility_matches_the_pixels(video):
    points, visibility = video.keypoints[..., :2].astype(int), video.keypoints[..., 2]
    inside = (points[..., 0] >= 0) & (points[..., 0] < 192) & (points[..., 1] >= 0) & (points[..., 1] < 160)
    np.testing.assert_array_equal(visibility == 0, ~inside)
    frame, animal, keypoint = np.argwhere(visibility == 2)[0]
    x, y = points[frame, animal, keypoint]
    assert tuple(video.frames[frame, y, x]) == MARKER_COLORS[keypoint]
    assert (visibility == 1).any()  # something is covered: by another animal or the shelter


def test_count_crossings_counts_each_close_pass_once():
    distance = np.array([50, 30, 15, 19, 15, 30, 50, 10, 50], float)  # enter < 20, re-armed > 40
    centres = np.zeros((len(distance), 2, 2))
    centres[:, 1, 0] = distance
    assert count_crossings(centres, length=40.0) == 2


def test_the_bundled_example_is_what_the_generator_makes():
    path, truth = example_tracking_video()
    assert path.stat().st_size + truth.stat().st_size < 1_000_000
    capture = cv2.VideoCapture(str(path))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == EXAMPLE_SETTINGS["num_frames"]
    capture.release()
    expected = make_tracking_video(**EXAMPLE_SETTINGS)
    np.testing.assert_array_equal(read_ground_truth(truth), expected.keypoints)
    assert expected.crossings == 4


def test_noisy_detections(video):
    exact = noisy_detections(video.keypoints, np.random.default_rng(0), noise=0, drop_keypoints=0, drop_detections=0)
    visible = (video.keypoints[..., 2] == 2).sum(axis=-1) >= 2
    assert (np.isfinite(exact[..., 0]).any(axis=-1).sum(axis=1) == visible.sum(axis=1)).all()
    frame = int(np.argmax(visible.all(axis=1)))  # a frame where all three are detected, in shuffled order
    expected = np.where(video.keypoints[frame, ..., 2:] == 2, video.keypoints[frame, ..., :2], np.nan)
    found = exact[frame, ..., :2]
    order = [int(np.nanargmin([np.nanmean(np.abs(f - e)) for e in expected])) for f in found]
    np.testing.assert_array_equal(found, expected[order])
    dropped = noisy_detections(video.keypoints, np.random.default_rng(0), drop_detections=1.0)
    assert np.isnan(dropped[..., :2]).all() and (dropped[..., 2] == 0).all()
