"""lpa analyze tracks multi-animal videos and keeps their detections; lpa track re-tracks them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import lightning_pose_arch.inference.analyze as analyze_module
from lightning_pose_arch.cli import main
from lightning_pose_arch.data.synthetic_multi import BODYPARTS
from lightning_pose_arch.data.synthetic_video import make_tracking_video, noisy_detections, write_video
from lightning_pose_arch.inference.tables import fit_individuals
from lightning_pose_arch.tracking.io import read_detections

INDIVIDUALS = ["mouse_a", "mouse_b", "mouse_c"]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A 30-frame video and detections of it as a bottom-up model returns them (5 slots)."""
    video = make_tracking_video(num_frames=30, num_animals=3, seed=2)
    folder = tmp_path_factory.mktemp("track")
    detections = np.full((30, 5, 7, 3), np.nan)
    detections[:, :3] = noisy_detections(video.keypoints, np.random.default_rng(0), noise=1.0, drop_detections=0.0)
    return write_video(folder / "clip.mp4", video.frames), detections, video


@pytest.fixture
def fake_model(monkeypatch, scene):
    """analyze without a network: the module's info and the detections above."""
    info = {"bodyparts": list(BODYPARTS), "individuals": INDIVIDUALS, "unique_bodyparts": ["marker"]}
    module = SimpleNamespace(dataset_info=info)
    monkeypatch.setattr(analyze_module, "load_module", lambda *args: module)
    monkeypatch.setattr(analyze_module, "build_inferencer", lambda *args: None)
    monkeypatch.setattr(analyze_module, "model_name", lambda *args: "LPA_fake")
    unique = np.tile([[[[5.0, 6.0, 0.7]]]], (30, 1, 1, 1))
    monkeypatch.setattr(analyze_module, "predict_source",
                        lambda *args: {"keypoints": scene[1].copy(), "unique_keypoints": unique})


def tracked_keypoints(path: Path) -> np.ndarray:
    """The animals' keypoints of a written table, after checking its individuals and unique bodypart."""
    table = pd.read_hdf(path)
    assert list(table.columns.get_level_values("individuals").unique()) == [*INDIVIDUALS, "single"]
    np.testing.assert_array_equal(table.xs("single", axis=1, level="individuals").to_numpy(), [[5.0, 6.0, 0.7]] * 30)
    return table.drop(columns="single", level="individuals").to_numpy().reshape(len(table), 3, 7, 3)


def test_analyze_tracks_and_lpa_track_retracks_without_the_network(fake_model, scene, tmp_path, capsys):
    video, detections, truth = scene
    written = analyze_module.analyze("model.ckpt", [video], out_dir=tmp_path, progress=False)
    assert [p.name for p in written] == ["clip_LPA_fake.h5", "clip_LPA_fake.csv", "clip_LPA_fake_detections.h5"]
    tracked = tracked_keypoints(written[0])
    for column in range(3):  # each column follows one animal through the clip
        found = np.isfinite(tracked[:, column, :, 0]).any(axis=-1)
        errors = np.stack([np.nanmean(np.abs(tracked[found, column, :, :2] - truth.keypoints[found, n, :, :2]),
                                      axis=(1, 2)) for n in range(3)])
        assert len(set(np.nanargmin(errors, axis=0).tolist())) == 1
    table, attributes = read_detections(written[2])
    assert attributes["individuals"] == INDIVIDUALS and table.shape == (30, 5 * 7 * 3 + 3)
    np.testing.assert_array_equal(table.to_numpy()[:, :-3].reshape(detections.shape), detections)

    main(["track", str(written[2]), "--out", str(tmp_path / "again")])
    assert "wrote" in capsys.readouterr().out
    np.testing.assert_array_equal(tracked_keypoints(tmp_path / "again" / "clip_LPA_fake.h5"), tracked)
    main(["track", str(written[2]), "--tracker", "none", "--out", str(tmp_path / "none")])
    np.testing.assert_array_equal(tracked_keypoints(tmp_path / "none" / "clip_LPA_fake.h5"),
                                  fit_individuals(detections, 3))


def test_tracker_none_writes_best_first_columns(fake_model, scene, tmp_path):
    written = analyze_module.analyze("model.ckpt", [scene[0]], out_dir=tmp_path, progress=False, tracker="none")
    np.testing.assert_array_equal(tracked_keypoints(written[0]), fit_individuals(scene[1], 3))


def test_bad_tracker_fails_before_the_network_runs(tmp_path, scene):
    with pytest.raises(Exception, match="did you mean 'KalmanTracker'"):
        analyze_module.analyze("missing.ckpt", [scene[0]], tracker="{type: KalmanTrackr}")


def test_a_file_that_is_not_a_detections_file(tmp_path):
    path = tmp_path / "x.h5"
    pd.DataFrame({"a": [1.0]}).to_hdf(path, key="other")
    with pytest.raises(ValueError, match="not a detections file written by lpa analyze"):
        read_detections(path)


def test_lpa_track_on_a_model_without_a_unique_bodypart_head(fake_model, scene, tmp_path, monkeypatch):
    # the project has a unique bodypart (marker) but the model no head for it: no "single" columns anywhere
    monkeypatch.setattr(analyze_module, "predict_source", lambda *args: {"keypoints": scene[1].copy()})
    written = analyze_module.analyze("model.ckpt", [scene[0]], out_dir=tmp_path, progress=False)
    main(["track", str(written[2]), "--out", str(tmp_path / "again")])
    again = pd.read_hdf(tmp_path / "again" / "clip_LPA_fake.h5")
    assert list(again.columns.get_level_values("individuals").unique()) == INDIVIDUALS
    np.testing.assert_array_equal(again.to_numpy(), pd.read_hdf(written[0]).to_numpy())
