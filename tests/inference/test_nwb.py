"""NWB export with ndx-pose: read back with pynwb, checked with nwbinspector."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
from nwbinspector import Importance, inspect_nwbfile
from pynwb import NWBHDF5IO

from helpers import VIDEO_FRAMES
from lightning_pose_arch.cli import main
from lightning_pose_arch.inference.nwb import write_nwb
from lightning_pose_arch.inference.tables import predictions_to_table, write_predictions

START = datetime.datetime(2024, 5, 1, 9, 30, tzinfo=datetime.timezone.utc)


def keypoint_values(frames: int, individuals: int, bodyparts: int) -> np.ndarray:
    """Distinct numbers per frame, individual, bodypart: x = 100 i + 10 k + f, y = x / 2, likelihood = f / frames."""
    f, i, k = np.meshgrid(np.arange(frames), np.arange(individuals), np.arange(bodyparts), indexing="ij")
    x = 100.0 * i + 10.0 * k + f
    return np.stack([x, x / 2, f / frames], axis=-1)


def test_single_animal_round_trip(tmp_path: Path) -> None:
    values = keypoint_values(5, 1, 3)
    values[2, 0, 1] = [np.nan, np.nan, 0.0]  # not found in frame 2
    table = predictions_to_table(values, list(range(5)), ["snout", "ear", "tail"], ["single animal"], "DLC_x")
    path = write_nwb(table, tmp_path / "s.nwb", video=tmp_path / "session.mp4", fps=30.0, frame_size=(640, 480),
                     session_start=START, skeleton=[["snout", "ear"], ["ear", "tail"], ["snout", "paw"]])
    with NWBHDF5IO(str(path), mode="r") as io:
        nwb = io.read()
        behavior = nwb.processing["behavior"]
        estimation = behavior["PoseEstimation"]
        assert list(estimation.pose_estimation_series) == ["ear", "snout", "tail"]
        snout = estimation.pose_estimation_series["snout"]
        np.testing.assert_array_equal(snout.data[:], values[:, 0, 0, :2])
        np.testing.assert_array_equal(snout.confidence[:], values[:, 0, 0, 2])
        assert np.isnan(estimation.pose_estimation_series["ear"].data[2]).all()
        assert snout.rate == 30.0 and snout.starting_time == 0.0 and snout.unit == "pixels"
        assert estimation.scorer == "DLC_x" and estimation.source_software == "lightning_pose_arch"
        assert list(estimation.original_videos[:]) == [str(tmp_path / "session.mp4")]
        np.testing.assert_array_equal(estimation.dimensions[:], [[640, 480]])
        skeleton = estimation.skeleton
        assert list(skeleton.nodes[:]) == ["snout", "ear", "tail"]
        np.testing.assert_array_equal(skeleton.edges[:], [[0, 1], [1, 2]])  # 'paw' is no bodypart: left out
        assert nwb.session_start_time == START


def test_multi_animal_with_unique_bodyparts_gets_one_estimation_per_individual(tmp_path: Path) -> None:
    values, unique = keypoint_values(4, 2, 2), keypoint_values(4, 1, 1) + 1000
    table = predictions_to_table(values, list(range(4)), ["nose", "tail"], ["m1", "m2"], "DLC_x", unique, ["cork"])
    path = write_nwb(table, tmp_path / "m.nwb", video="v.mp4", fps=10.0, frame_size=(64, 48), session_start=START)
    with NWBHDF5IO(str(path), mode="r") as io:
        behavior = io.read().processing["behavior"]
        names = sorted(n for n in behavior.data_interfaces if n.startswith("PoseEstimation"))
        assert names == ["PoseEstimation_m1", "PoseEstimation_m2", "PoseEstimation_single"]
        np.testing.assert_array_equal(behavior["PoseEstimation_m2"].pose_estimation_series["tail"].data[:],
                                      values[:, 1, 1, :2])
        np.testing.assert_array_equal(behavior["PoseEstimation_single"].pose_estimation_series["cork"].data[:],
                                      unique[:, 0, 0, :2])
        assert sorted(behavior["Skeletons"].skeletons) == ["skeleton_m1", "skeleton_m2", "skeleton_single"]


def test_export_nwb_command_passes_nwbinspector(synthetic_video: Path, tmp_path: Path) -> None:
    table = predictions_to_table(keypoint_values(VIDEO_FRAMES, 1, 2), list(range(VIDEO_FRAMES)), ["a", "b"],
                                 ["single animal"], "DLC_x")
    h5 = write_predictions(table, tmp_path / "clipDLC_x")[0]
    main(["export-nwb", str(h5), "--video", str(synthetic_video), "--session-start", "2024-05-01T09:30:00+00:00",
          "--subject-id", "mouse3", "--species", "Mus musculus", "--age", "P90D", "--sex", "F"])
    path = h5.with_suffix(".nwb")
    with NWBHDF5IO(str(path), mode="r") as io:
        series = io.read().processing["behavior"]["PoseEstimation"].pose_estimation_series["b"]
        assert series.rate == 15.0 and series.data.shape == (VIDEO_FRAMES, 2)
    problems = [m for m in inspect_nwbfile(nwbfile_path=str(path), importance_threshold=Importance.CRITICAL)]
    assert problems == [], [f"{m.check_function_name}: {m.message}" for m in problems]
