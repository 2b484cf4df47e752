"""``lpa analyze`` outputs as DeepLabCut 3.0.2 writes them (``pose_estimation_pytorch/apis/videos.py``)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd

from helpers import VIDEO_FRAMES
from lightning_pose_arch.inference.analyze import analyze
from lightning_pose_arch.inference.dlc_compat import META_FIELDS
from lightning_pose_arch.inference.runner import load_module

# _generate_metadata's keys, in its order (DeepLabCut 3.0.2, pose_estimation_pytorch/apis/videos.py)
DLC_META_KEYS = ["start", "stop", "run_duration", "Scorer", "pytorch-config", "fps", "batch_size", "frame_dimensions",
                 "nframes", "iteration (active-learning)", "training set fraction", "cropping", "cropping_parameters",
                 "individuals", "bodyparts", "unique_bodyparts"]
TRACKER_SUFFIXES = ("_sk", "_bx", "_el")  # auxiliaryfunctions.TRACK_METHODS: files DeepLabCut reads as tracked


def found_by_dlc(path: Path, videoname: str, scorer: str) -> bool:
    """``auxiliaryfunctions.find_analyzed_data`` (3.0.2) for an unfiltered, untracked table."""
    return (path.suffix == ".h5" and path.name.startswith(videoname + scorer) and "skeleton" not in path.name
            and "filtered" not in path.name and not path.stem.endswith(TRACKER_SUFFIXES))


def test_dlc_project_model_writes_dlc_names_header_and_meta(checkpoint: Path, synthetic_video: Path,
                                                            tmp_path: Path) -> None:
    written = analyze(checkpoint, [synthetic_video], out_dir=tmp_path, batch_size=4, device="cpu", progress=False)
    scorer = "DLC_LpaCSPNeXts_syntheticshuffle1_tiny"  # DLC_<net>_<Task><date>shuffle<n>_<snapshot>; no date in config
    assert [p.name for p in written] == [f"clip{scorer}.h5", f"clip{scorer}.csv", f"clip{scorer}_meta.pickle"]
    assert found_by_dlc(written[0], "clip", scorer) and "DLC" in written[0].name  # converth5_to_csv lists *DLC*.h5
    table = pd.read_hdf(written[0], key="df_with_missing")
    expected_columns = pd.MultiIndex.from_product(  # create_df_from_prediction, single animal
        [[scorer], ["snout", "leftear", "rightear", "tailbase"], ["x", "y", "likelihood"]],
        names=["scorer", "bodyparts", "coords"])
    assert table.columns.equals(expected_columns)
    assert list(table.index) == list(range(VIDEO_FRAMES))
    meta = pickle.loads(written[2].read_bytes())
    assert list(meta) == ["data"] and list(meta["data"]) == DLC_META_KEYS == list(META_FIELDS)
    data = meta["data"]
    assert data["Scorer"] == scorer and data["nframes"] == VIDEO_FRAMES and data["fps"] == 15.0
    assert data["frame_dimensions"] == (128, 96) and data["batch_size"] == 4
    assert data["cropping"] is False and data["cropping_parameters"] == [0, 128, 0, 96]
    assert data["bodyparts"] == ["snout", "leftear", "rightear", "tailbase"] and data["unique_bodyparts"] == []
    assert data["individuals"] == ["individual_1"]  # DeepLabCut's name for the one animal
    assert data["iteration (active-learning)"] == 0 and data["training set fraction"] == 0.75
    assert 0 <= data["run_duration"] == data["stop"] - data["start"]
    assert data["pytorch-config"]["metadata"]["bodyparts"] == data["bodyparts"]
    assert data["pytorch-config"]["model"] == load_module(checkpoint, "cpu").hparams["cfg"]["model"]


def test_scorer_override_names_files_and_header(checkpoint: Path, synthetic_video: Path, tmp_path: Path) -> None:
    scorer = "DLC_Resnet50_openfieldOct30shuffle1_snapshot_200"  # e.g. the scorer of the user's DeepLabCut shuffle
    written = analyze(checkpoint, [synthetic_video], out_dir=tmp_path, device="cpu", progress=False, scorer=scorer)
    assert written[0].name == f"clip{scorer}.h5"
    assert set(pd.read_hdf(written[0]).columns.get_level_values("scorer")) == {scorer}
    assert pickle.loads(written[2].read_bytes())["data"]["Scorer"] == scorer


def test_images_get_dlc_named_tables_without_meta(checkpoint: Path, synthetic_project: Path, tmp_path: Path) -> None:
    folder = synthetic_project / "labeled-data" / "synthvideo"
    written = analyze(checkpoint, [folder], out_dir=tmp_path, device="cpu", progress=False)
    assert [p.name for p in written] == ["synthvideoDLC_LpaCSPNeXts_syntheticshuffle1_tiny.h5",
                                         "synthvideoDLC_LpaCSPNeXts_syntheticshuffle1_tiny.csv"]
