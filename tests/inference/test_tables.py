import numpy as np
import pandas as pd
import pytest

from lightning_pose_arch.inference.tables import predictions_to_table, write_predictions


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
