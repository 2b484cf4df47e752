"""KalmanTracker end to end on hand-made detections: crossings, disappearances, missing data."""

from __future__ import annotations

import numpy as np
import pytest

from lightning_pose_arch.tracking import KalmanTracker, build_tracker

# A rigid 4-keypoint "animal" (px offsets from its centre), heading along +x.
SHAPE = np.array([[12.0, 0.0], [6.0, 4.0], [6.0, -4.0], [-12.0, 0.0]])


def animal(centres: np.ndarray, heading: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """Keypoints ``[T, K, 3]`` (score 0.9) of the rigid animal at ``centres [T, 2]``."""
    rotation = np.array([[np.cos(heading), -np.sin(heading)], [np.sin(heading), np.cos(heading)]])
    points = centres[:, None] + scale * SHAPE @ rotation.T
    return np.concatenate([points, np.full((*points.shape[:2], 1), 0.9)], axis=-1)


def line(start: tuple[float, float], velocity: tuple[float, float], frames: int) -> np.ndarray:
    return np.asarray(start) + np.arange(frames)[:, None] * np.asarray(velocity)


def as_detections(animals: list[np.ndarray], slots: int, shuffle_seed: int = 0) -> np.ndarray:
    """Stack animals ``[T, K, 3]`` into ``[T, slots, K, 3]`` in a random order per frame (unused slots NaN)."""
    frames, keypoints = animals[0].shape[:2]
    detections = np.full((frames, slots, keypoints, 3), np.nan)
    detections[:, : len(animals)] = np.stack(animals, axis=1)
    rng = np.random.default_rng(shuffle_seed)
    order = np.stack([rng.permutation(slots) for _ in range(frames)])
    return np.take_along_axis(detections, order[..., None, None], axis=1)


def identity_of(tracked: np.ndarray, truth: list[np.ndarray]) -> np.ndarray:
    """``[T, N]``: index of the true animal each output column holds per frame (-1: none)."""
    distance = np.stack([np.linalg.norm(tracked[..., :2] - t[:, None, :, :2], axis=-1) for t in truth], axis=-1)
    known = np.isfinite(distance)  # [T, N, K, A]
    mean = np.where(known.any(axis=2), np.where(known, distance, 0).sum(axis=2) / known.sum(axis=2).clip(1), np.inf)
    return np.where(np.isfinite(mean).any(axis=-1), mean.argmin(axis=-1), -1)


def assert_stable(identity: np.ndarray, count: int) -> None:
    """Each output column holds one animal whenever it holds any, and the columns hold ``count`` different ones."""
    held = [set(identity[:, n][identity[:, n] >= 0].tolist()) for n in range(identity.shape[1])]
    assert all(len(h) <= 1 for h in held), f"a column holds several animals: {held}"
    assert len(set().union(*held)) == count == sum(len(h) for h in held), held


def test_two_animals_crossing_keep_their_identities():
    a = animal(line((20, 50), (2, 0.5), 80))
    b = animal(line((180, 70), (-2, -0.5), 80), heading=np.pi)  # head-on through a at frame 40
    tracked = build_tracker("KalmanTracker").track(as_detections([a, b], slots=4), num_individuals=2)
    identity = identity_of(tracked, [a, b])
    assert (identity == identity[0]).all() and sorted(identity[0]) == [0, 1]
    np.testing.assert_allclose(tracked[:, identity[0].tolist().index(0)], a)


def test_animals_crossing_at_an_angle_and_touching_keep_their_identities():
    a = animal(line((20, 20), (2, 1.5), 60), heading=np.arctan2(1.5, 2))
    b = animal(line((20, 110), (2, -1.5), 60), heading=np.arctan2(-1.5, 2))
    c = animal(line((60, 65), (0.3, 0.0), 60), heading=np.pi / 2)  # both pass over this slow one
    tracked = KalmanTracker().track(as_detections([a, b, c], slots=3, shuffle_seed=1), num_individuals=3)
    identity = identity_of(tracked, [a, b, c])
    assert (identity == identity[0]).all() and sorted(identity[0]) == [0, 1, 2]


def test_an_animal_that_disappears_gets_its_identity_back_after_stitching():
    # a vanishes for 25 frames (longer than max_age) and reappears where its motion leads;
    # b, slower, keeps going. Reappearing, a starts a new tracklet, stitched back into a's identity.
    a = animal(line((20, 40), (2, 0), 100))
    b = animal(line((30, 100), (1, 0), 100))
    a[40:65] = np.nan
    tracked = KalmanTracker(max_age=5).track(as_detections([a, b], slots=3), num_individuals=2)
    identity = identity_of(tracked, [a, b])
    visible = np.r_[0:40, 65:100]
    assert (identity[visible] == identity[0]).all()
    assert np.isnan(tracked[40:65, identity[0].tolist().index(0), :, 0]).all()  # the gap stays a gap


def test_stitching_uses_motion_where_birth_order_would_swap_the_animals():
    # Both animals vanish together (under a shelter) for 20 frames and come out where their motion
    # leads; b comes out one frame before a. Without stitching, b would take the first free column, a's.
    a = animal(line((20, 40), (2, 0), 90))
    b = animal(line((20, 100), (2, 0), 90), scale=1.3)
    a[30:50], b[30:49] = np.nan, np.nan
    detections = as_detections([a, b], slots=2)
    stitched = identity_of(KalmanTracker(max_age=5).track(detections, 2), [a, b])
    unstitched = identity_of(KalmanTracker(max_age=5, stitch=False).track(detections, 2), [a, b])
    assert (stitched[np.r_[0:30, 50:90]] == stitched[0]).all()
    assert not (unstitched[np.r_[0:30, 50:90]] == unstitched[0]).all()


def test_missing_keypoints_and_empty_frames():
    rng = np.random.default_rng(0)
    a, b = animal(line((20, 40), (1.5, 0), 60)), animal(line((150, 100), (-1.5, 0), 60), heading=np.pi)
    for track in (a, b):
        track[rng.random(track.shape[:2]) < 0.3] = [np.nan, np.nan, 0.0]  # 30 % of the keypoints missing
    a[rng.random(60) < 0.1, :, 2] = 0.01  # and whole frames of a under the score threshold
    detections = as_detections([a, b], slots=3)
    detections[20:23] = np.nan  # three empty frames
    tracked = KalmanTracker(interpolate_gap=5).track(detections, num_individuals=2)
    identity = identity_of(tracked, [a, b])
    assert_stable(identity, 2)
    column = identity[0].tolist().index(1)
    known = ~np.isnan(b[19, :, 0]) & ~np.isnan(b[23, :, 0])
    np.testing.assert_allclose(tracked[21, column, known, :2], (b[19, known, :2] + b[23, known, :2]) / 2)
    without = KalmanTracker(interpolate_gap=0).track(detections, num_individuals=2)
    assert np.isnan(without[20:23, ..., :2]).all() and (without[20:23, ..., 2] == 0).all()


@pytest.mark.parametrize("frames", [0, 5])
def test_videos_without_any_detection(frames: int):
    tracked = KalmanTracker().track(np.full((frames, 3, 4, 3), np.nan), num_individuals=2)
    assert tracked.shape == (frames, 2, 4, 3)
    assert np.isnan(tracked[..., :2]).all() and (tracked[..., 2] == 0).all()


def test_more_tracks_than_individuals_keeps_the_n_that_fit():
    # three animals in turn but the project has two: the third, overlapping both in time, is dropped
    a, b = animal(line((20, 40), (1, 0), 50)), animal(line((20, 100), (1, 0), 50))
    c = animal(line((100, 70), (0, 0), 50))
    c[:10] = c[40:] = np.nan
    tracked = KalmanTracker().track(as_detections([a, b, c], slots=3), num_individuals=2)
    identity = identity_of(tracked, [a, b, c])
    assert sorted(identity[0]) == [0, 1] and (identity == identity[0]).all()


def test_bad_detections_shape_is_rejected():
    with pytest.raises(ValueError, match=r"\[frames, detections, keypoints, 3\]"):
        KalmanTracker().track(np.zeros((5, 4, 3)), num_individuals=2)


def test_an_animal_split_into_parts_is_tracked_as_one():
    # bottom-up grouping sometimes emits an animal as two detections (head part, tail part): the part must not
    # become a second track that takes an identity from the other animal
    a, b = animal(line((20, 40), (1.5, 0), 60)), animal(line((150, 100), (-1.5, 0), 60), heading=np.pi)
    head, tail = a.copy(), np.full_like(a, np.nan)
    head[20:40, 2:], tail[20:40, 2:] = np.nan, a[20:40, 2:]
    tracked = KalmanTracker().track(as_detections([head, tail, b], slots=4), num_individuals=2)
    identity = identity_of(tracked, [a, b])
    assert_stable(identity, 2)
    np.testing.assert_allclose(tracked[:, identity[0].tolist().index(0)], a)  # the parts merged back, every frame


def test_a_few_keypoints_do_not_start_a_track_but_continue_one():
    a = animal(line((20, 40), (1.5, 0), 40))
    stray = np.full_like(a, np.nan)
    stray[5:30, :2] = [[100.0, 100.0, 0.5], [90.0, 100.0, 0.5]]  # two keypoints: mean score over K 0.25 < 0.3
    sparse = a.copy()
    sparse[10:30, 2:] = np.nan  # a seen by two keypoints only: its track goes on
    tracked = KalmanTracker().track(as_detections([sparse, stray], slots=2), num_individuals=2)
    identity = identity_of(tracked, [a, stray])
    assert set(identity.ravel().tolist()) == {0, -1}  # the stray keypoint never became an animal
    column = identity[0].tolist().index(0)
    np.testing.assert_allclose(tracked[10:30, column, :2], a[10:30, :2])

