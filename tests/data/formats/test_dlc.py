import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from lightning_pose_arch.data.formats.dlc import labels_table, read_labels, read_project, write_project, write_table
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


# A hand-built multi-animal project: individuals a, b with bodyparts nose, tail; unique bodypart box under "single".
MULTI_CONFIG = {"scorer": "me", "multianimalproject": True, "individuals": ["a", "b"],
                "multianimalbodyparts": ["nose", "tail"], "uniquebodyparts": ["box"], "bodyparts": "MULTI!",
                "skeleton": [["nose", "tail"]], "TrainingFraction": [0.8]}
MULTI_ROWS = [[1.5, 2, 3, 4, np.nan, np.nan, 7, 8, 9, 10], [np.nan] * 4 + [11, 12, 13.25, 14, np.nan, np.nan]]
EXPECTED_KEYPOINTS = [[[[1.5, 2, 2], [3, 4, 2]], [[0, 0, 0], [7, 8, 2]]],
                      [[[0, 0, 0], [0, 0, 0]], [[11, 12, 2], [13.25, 14, 2]]]]
EXPECTED_UNIQUE = [[[[9, 10, 2]]], [[[0, 0, 0]]]]


def multi_table(index_columns: int, individuals: tuple[str, ...] = ("a", "b")) -> pd.DataFrame:
    keys = [(ind, bp) for ind in individuals for bp in ("nose", "tail")] + [("single", "box")]
    columns = pd.MultiIndex.from_tuples([("me", *key, c) for key in keys for c in "xy"],
                                        names=["scorer", "individuals", "bodyparts", "coords"])
    paths = [("labeled-data", "v1", f"img{i}.png") for i in range(2)]
    index = pd.MultiIndex.from_tuples(paths) if index_columns == 3 else pd.Index(["/".join(p) for p in paths])
    rows = [row[: 4 * len(individuals)] + row[-2:] for row in MULTI_ROWS]
    return pd.DataFrame(rows, index=index, columns=columns, dtype=float)


def write_multi_project(root: Path, table: pd.DataFrame, suffix: str, config: dict | None = None) -> Path:
    folder = root / "labeled-data" / "v1"
    folder.mkdir(parents=True)
    for i in range(2):
        Image.new("RGB", (40, 30)).save(folder / f"img{i}.png")
    (root / "config.yaml").write_text(yaml.safe_dump(config or MULTI_CONFIG))
    write_table(table, folder / f"CollectedData_me.{suffix}")
    return root


@pytest.mark.parametrize("suffix", ["csv", "h5"])
@pytest.mark.parametrize("index_columns", [1, 3])
def test_multi_animal_project_with_unique_bodyparts(tmp_path: Path, suffix: str, index_columns: int) -> None:
    table = multi_table(index_columns)
    table = table[table.columns[[4, 5, 6, 7, 8, 9, 0, 1, 2, 3]]]  # b and single before a: read by name, not order
    data = read_project(write_multi_project(tmp_path, table, suffix))
    assert data.individuals == ["a", "b"] and data.bodyparts == ["nose", "tail"] and data.unique_bodyparts == ["box"]
    assert data.image_paths == ["labeled-data/v1/img0.png", "labeled-data/v1/img1.png"]
    assert data.keypoints.dtype == np.float32 and data.unique_keypoints.dtype == np.float32
    np.testing.assert_array_equal(data.keypoints, EXPECTED_KEYPOINTS)
    np.testing.assert_array_equal(data.unique_keypoints, EXPECTED_UNIQUE)
    assert data.skeleton == [["nose", "tail"]]
    assert data.flip_pairs is None and data.sigmas is None and data.bboxes is None


@pytest.mark.parametrize("source", ["multi", "openfield"])
def test_write_project_round_trip(tmp_path: Path, openfield: Path, source: str, assert_same_labels) -> None:
    source_dir = write_multi_project(tmp_path / "a", multi_table(1), "h5") if source == "multi" else openfield
    original = read_project(source_dir)
    write_project(original, tmp_path / "b")
    folder = next((tmp_path / "b" / "labeled-data").iterdir())
    assert sorted(p.name for p in folder.glob("CollectedData_*")) == [f"CollectedData_{original.config['scorer']}.{s}"
                                                                      for s in ("csv", "h5")]
    pd.testing.assert_frame_equal(read_labels(next(folder.glob("*.csv"))), read_labels(next(folder.glob("*.h5"))))
    assert (tmp_path / "b" / original.image_paths[0]).is_file()  # images copied along
    again = read_project(tmp_path / "b")
    assert_same_labels(original, again)
    assert again.root == tmp_path / "b"


def test_written_multi_animal_table_has_dlc_layout(tmp_path: Path) -> None:
    data = read_project(write_multi_project(tmp_path / "a", multi_table(1), "h5"))
    table = labels_table(data, "me")
    assert list(table.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert list(dict.fromkeys(table.columns.get_level_values("individuals"))) == ["a", "b", "single"]
    np.testing.assert_array_equal(table.to_numpy(), np.array(MULTI_ROWS))


@pytest.mark.parametrize(
    ("individuals", "config_individuals", "match"),
    [(("a", "b"), ["a"], r"CollectedData_me\.csv: individuals .* \(missing: \[\], extra: \['b'\]\)"),
     (("a", "b"), ["a", "b", "c"], r"CollectedData_me\.csv: individuals .* \(missing: \['c'\], extra: \[\]\)"),
     (("a",), ["a"], None)],
)
def test_individuals_must_match_config(tmp_path: Path, individuals, config_individuals, match) -> None:
    config = {**MULTI_CONFIG, "individuals": config_individuals}
    root = write_multi_project(tmp_path, multi_table(1, individuals), "csv", config)
    if match is None:
        with pytest.warns(UserWarning, match=r"1 of 2 labeled frames .* have no labeled keypoint .*img1.png"):
            assert read_project(root).keypoints.shape == (2, 1, 2, 3)
    else:
        with pytest.raises(ConfigError, match=match):
            read_project(root)


def test_unique_bodyparts_missing_from_the_table(tmp_path: Path) -> None:
    table = multi_table(1).drop(columns="single", level="individuals")
    with pytest.raises(ConfigError, match=r"CollectedData_me\.h5: individuals .*missing: \['single'\]"):
        read_project(write_multi_project(tmp_path, table, "h5"))


def test_single_animal_table_in_a_multi_animal_project(tmp_path: Path) -> None:
    config = {**MULTI_CONFIG, "multianimalproject": False, "bodyparts": ["nose", "tail"], "uniquebodyparts": []}
    with pytest.raises(ConfigError, match=r"CollectedData_me\.csv: the label table has an individuals .* False"):
        read_project(write_multi_project(tmp_path, multi_table(1), "csv", config))


def test_write_project_needs_dlc_image_paths(tmp_path: Path) -> None:
    data = read_project(write_multi_project(tmp_path / "a", multi_table(1), "csv"))
    moved = dataclasses.replace(data, image_paths=["images/img0.png", "images/img1.png"])
    with pytest.raises(ValueError, match=r"labeled-data/<video>/<image>, got 'images/img0.png'"):
        write_project(moved, tmp_path / "b")
    (tmp_path / "a" / data.image_paths[1]).unlink()
    with pytest.raises(FileNotFoundError, match=r"1 of 2 are missing there, e.g. \['labeled-data/v1/img1.png'\]"):
        write_project(data, tmp_path / "c")
