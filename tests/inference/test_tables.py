import numpy as np
import pandas as pd
import pytest

from lightning_pose_arch.inference.label_video import table_keypoints
from lightning_pose_arch.inference.tables import fit_individuals, predictions_to_table, write_predictions


def test_single_animal_layout_matches_deeplabcut() -> None:
    keypoints = np.arange(2 * 1 * 2 * 3, dtype=float).reshape(2, 1, 2, 3)
    table = predictions_to_table(keypoints, [0, 1], ["snout", "tail"], ["single animal"], "DLC_resnet50_x")
    expected = pd.MultiIndex.from_tuples(
        [("DLC_resnet50_x", bp, c) for bp in ("snout", "tail") for c in ("x", "y", "likelihood")],
        names=["scorer", "bodyparts", "coords"],
    )
    assert table.columns.equals(expected)
    assert table.loc[1, ("DLC_resnet50_x", "tail", "likelihood")] == 11.0


def test_multi_animal_layout_has_individuals_level() -> None:
    table = predictions_to_table(np.zeros((1, 2, 1, 3)), [0], ["nose"], ["mouse1", "mouse2"], "s")
    assert list(table.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert list(table.columns)[3] == ("s", "mouse2", "nose", "x")


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="do not match"):
        predictions_to_table(np.zeros((1, 1, 3, 3)), [0], ["nose"], ["single animal"], "s")


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch) -> None:
    table = predictions_to_table(np.zeros((1, 1, 1, 3)), [0], ["nose"], ["single animal"], "s")

    def crash(self, path, **kwargs):
        open(path, "w").write("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_hdf", crash)
    with pytest.raises(KeyboardInterrupt):
        write_predictions(table, tmp_path / "clip_model")
    assert list(tmp_path.iterdir()) == []


def test_fit_individuals_keeps_the_best_and_marks_missing_ones() -> None:
    keypoints = np.zeros((2, 3, 1, 3))
    keypoints[0, 0] = [[5.0, 6.0, 0.9]]
    keypoints[0, 1] = [[7.0, 8.0, 0.5]]
    keypoints[1, 0] = [[1.0, 2.0, 0.7]]  # frame 1: one animal found, slots 1-2 unused (zeros)
    two = fit_individuals(keypoints, 2)
    assert two.shape == (2, 2, 1, 3)
    np.testing.assert_array_equal(two[0], keypoints[0, :2])
    np.testing.assert_array_equal(two[1, 0], keypoints[1, 0])
    assert np.isnan(two[1, 1, 0, :2]).all() and two[1, 1, 0, 2] == 0
    four = fit_individuals(keypoints, 4)
    assert four.shape == (2, 4, 1, 3) and np.isnan(four[:, 3, :, :2]).all() and (four[:, 3, :, 2] == 0).all()


def test_unique_bodyparts_go_under_the_individual_single() -> None:
    keypoints = np.arange(2 * 2 * 1 * 3, dtype=float).reshape(2, 2, 1, 3)
    unique = np.full((2, 1, 1, 3), 7.0)
    table = predictions_to_table(keypoints, ["a.png", "b.png"], ["nose"], ["mouse1", "mouse2"], "lpa",
                                 unique_keypoints=unique, unique_bodyparts=["marker"])
    assert list(table.columns.get_level_values("individuals").unique()) == ["mouse1", "mouse2", "single"]
    assert table[("lpa", "single", "marker", "likelihood")].tolist() == [7.0, 7.0]
    assert table[("lpa", "mouse2", "nose", "x")].tolist() == [3.0, 9.0]
    animals, bodyparts = table_keypoints(table)  # label-video and plot draw the individuals
    assert animals.shape == (2, 2, 1, 3) and bodyparts == ["nose"]
    np.testing.assert_array_equal(animals, keypoints)
    with pytest.raises(ValueError, match="multi-animal"):
        predictions_to_table(keypoints[:, :1], ["a.png", "b.png"], ["nose"], ["single animal"], "lpa",
                             unique_keypoints=unique, unique_bodyparts=["marker"])
