from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lightning_pose_arch.data.formats.dlc import read_labels, read_project, write_table
from lightning_pose_arch.data.synthetic import make_synthetic_project
from lightning_pose_arch.registry import ConfigError


def test_openfield_csv_and_h5_read_the_same(openfield: Path) -> None:
    folder = openfield / "labeled-data" / "m4s1"
    csv, h5 = read_labels(folder / "CollectedData_Pranav.csv"), read_labels(folder / "CollectedData_Pranav.h5")
    pd.testing.assert_frame_equal(csv, h5)
    assert csv.index[0] == "labeled-data/m4s1/img0000.png"
    assert csv.loc["labeled-data/m4s1/img0000.png", ("Pranav", "snout", "x")] == pytest.approx(21.521)


def test_openfield_project(openfield: Path) -> None:
    project = read_project(openfield)
    assert project.bodyparts == ["snout", "leftear", "rightear", "tailbase"]
    assert project.keypoints.shape == (116, 1, 4, 3)
    np.testing.assert_allclose(project.keypoints[0, 0, 0], [21.521, 265.428, 2.0], rtol=1e-6)


def test_three_column_index_csv_is_read(tmp_path: Path, openfield: Path) -> None:
    table = read_labels(openfield / "labeled-data/m4s1/CollectedData_Pranav.csv")
    three = table.copy()
    three.index = pd.MultiIndex.from_tuples([tuple(p.split("/")) for p in table.index])
    three.to_csv(tmp_path / "three.csv")
    pd.testing.assert_frame_equal(read_labels(tmp_path / "three.csv"), table)


@pytest.mark.parametrize("suffix", ["csv", "h5"])
def test_write_table_round_trip(tmp_path: Path, openfield: Path, suffix: str) -> None:
    table = read_labels(openfield / "labeled-data/m4s1/CollectedData_Pranav.h5")
    write_table(table, tmp_path / f"labels.{suffix}")
    pd.testing.assert_frame_equal(read_labels(tmp_path / f"labels.{suffix}"), table)
    assert [p.name for p in tmp_path.iterdir()] == [f"labels.{suffix}"]  # no temporary leftovers


def test_missing_coordinates_become_visibility_zero(tmp_path: Path) -> None:
    project = read_project(make_synthetic_project(tmp_path, num_frames=10, missing_fraction=0.5, seed=3))
    labels = read_labels(next((tmp_path / "labeled-data").glob("*/CollectedData_*.csv")))
    nan_mask = labels.xs("x", axis=1, level="coords").isna().to_numpy()
    assert nan_mask.any() and not nan_mask.all()
    np.testing.assert_array_equal(project.keypoints[:, 0, :, 2] == 0, nan_mask)
    assert np.all(project.keypoints[:, 0][nan_mask][:, :2] == 0)


def test_bodyparts_differing_from_config_name_the_file(tmp_path: Path) -> None:
    root = make_synthetic_project(tmp_path, num_frames=2)
    config = (root / "config.yaml").read_text().replace("- leftear", "- left_ear")
    (root / "config.yaml").write_text(config)
    with pytest.raises(ConfigError, match=r"CollectedData_synth\.csv.*missing: \['left_ear'\].*extra: \['leftear'\]"):
        read_project(root)


def test_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        read_project(tmp_path)


def test_yaml_syntax_error_names_file(tmp_path: Path) -> None:
    root = make_synthetic_project(tmp_path, num_frames=2)
    (root / "config.yaml").write_text("bodyparts: [snout\n")
    with pytest.raises(ConfigError, match="config.yaml: invalid YAML"):
        read_project(root)


@pytest.mark.parametrize("index_columns", [1, 3])
def test_unlabeled_first_frame_of_a_csv_is_kept(tmp_path: Path, index_columns: int) -> None:
    """pandas reads a first row with only its index filled as the index names; it must stay a frame."""
    columns = pd.MultiIndex.from_product([["s"], ["a", "b"], ["x", "y"]], names=["scorer", "bodyparts", "coords"])
    paths = [("labeled-data", "v", f"img{i}.png") for i in range(3)]
    index = pd.MultiIndex.from_tuples(paths) if index_columns == 3 else pd.Index(["/".join(p) for p in paths])
    table = pd.DataFrame(np.arange(12.0).reshape(3, 4), index=index, columns=columns)
    table.iloc[0] = np.nan
    table.to_csv(tmp_path / "labels.csv")
    read = read_labels(tmp_path / "labels.csv")
    assert list(read.index) == ["labeled-data/v/img0.png", "labeled-data/v/img1.png", "labeled-data/v/img2.png"]
    assert read.iloc[0].isna().all() and read.iloc[1].tolist() == [4.0, 5.0, 6.0, 7.0]
