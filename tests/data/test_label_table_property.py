"""Property: reading a DeepLabCut label table loses, duplicates or changes no frame and no label unless it says so.

Hypothesis draws small tables (frames × 2 bodyparts, labeled or empty cells) and spoils some of them
(a repeated row, a coordinate off the image, a non-numeric cell, a missing column or bodypart, a
label with only one coordinate). A spoiled table must raise a ConfigError naming the label file or
the frame; a clean one must read back frame for frame and label for label, and a frame left
without labels must be named in a warning.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lightning_pose_arch.data.formats import read_project
from lightning_pose_arch.data.formats.dlc import write_table
from lightning_pose_arch.data.images import check_images
from lightning_pose_arch.data.synthetic import write_rgb
from lightning_pose_arch.data.validation import check_labels_inside_images, check_some_label
from lightning_pose_arch.registry import ConfigError

WIDTH, HEIGHT = 24, 16
BODYPARTS = ("a", "b")
SCORER = "s"
COLUMNS = pd.MultiIndex.from_tuples([(SCORER, bp, c) for bp in BODYPARTS for c in ("x", "y")],
                                    names=["scorer", "bodyparts", "coords"])

coordinate = st.one_of(st.none(), st.tuples(st.integers(0, (WIDTH - 1) * 100), st.integers(0, (HEIGHT - 1) * 100)))
frames = st.lists(st.lists(coordinate, min_size=len(BODYPARTS), max_size=len(BODYPARTS)), min_size=1, max_size=5)
spoil = st.one_of(
    st.tuples(st.just("repeat_row"), st.integers(0, 4), st.booleans()),
    st.tuples(st.just("off_image"), st.integers(0, 4), st.integers(0, 3),
              st.one_of(st.floats(-1e4, -0.51), st.floats(WIDTH - 0.49, 1e4))),
    st.tuples(st.just("not_a_number"), st.integers(0, 4), st.integers(0, 3), st.sampled_from(["abc", "12px", "?"])),
    st.tuples(st.just("drop_column"), st.integers(0, 3)),
    st.tuples(st.just("drop_bodypart"), st.integers(0, len(BODYPARTS) - 1)),
    st.tuples(st.just("one_coordinate"), st.integers(0, 4), st.integers(0, 3)),
)


def make_table(cells: list[list[tuple[int, int] | None]]) -> pd.DataFrame:
    """Coordinates in hundredths of a pixel (exact in CSV) → a label table, empty cells NaN."""
    rows = [[v / 100 if point else np.nan for point in frame for v in (point or (0, 0))] for frame in cells]
    index = [f"labeled-data/v/img{i}.png" for i in range(len(cells))]
    return pd.DataFrame(rows, index=index, columns=COLUMNS).astype(object)


def spoiled(table: pd.DataFrame, fault: tuple) -> pd.DataFrame:
    """``table`` with one fault; rows and columns are picked modulo the table's current shape."""
    kind, *args = fault
    columns = list(table.columns)
    if kind == "drop_column":
        return table.drop(columns=[columns[args[0] % len(columns)]]) if columns else table
    if kind == "drop_bodypart":
        return table.drop(columns=[c for c in columns if c[1] == BODYPARTS[args[0]]])
    row = args[0] % len(table)
    if kind == "repeat_row":
        copy = table.iloc[[row]].copy()
        if args[1] and columns:
            copy.iloc[0, 0] = 1.25 if copy.iloc[0, 0] != 1.25 else 2.5
        return pd.concat([table, copy])
    if not columns:
        return table
    column = columns[args[1] % len(columns)]
    if kind == "off_image":
        table.loc[table.index[row], column] = args[2] if column[2] == "x" else args[2] * HEIGHT / WIDTH
    elif kind == "not_a_number":
        table.loc[table.index[row], column] = args[2]
    else:  # one_coordinate: this one given, the other empty
        table.loc[table.index[row], column] = 3.0
        partner = (SCORER, column[1], "y" if column[2] == "x" else "x")
        if partner in columns:
            table.loc[table.index[row], partner] = np.nan
    return table


def write_project(root: Path, table: pd.DataFrame) -> None:
    (root / "labeled-data" / "v").mkdir(parents=True)
    (root / "config.yaml").write_text(yaml.safe_dump({"scorer": SCORER, "bodyparts": list(BODYPARTS),
                                                      "multianimalproject": False}))
    for path in dict.fromkeys(table.index):
        write_rgb(root / path, np.zeros((HEIGHT, WIDTH, 3), np.uint8))
    write_table(table, root / "labeled-data" / "v" / f"CollectedData_{SCORER}.csv")


def read_checked(root: Path):
    """What a data module's ``__init__`` + ``setup`` run on the labels."""
    data = read_project(root)
    check_some_label(data)
    check_labels_inside_images(data, check_images(root, data.image_paths))
    return data


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=frames, faults=st.lists(spoil, max_size=2))
def test_no_frame_or_label_is_lost_without_an_error_or_a_warning(cells, faults) -> None:
    table = make_table(cells)
    for fault in faults:
        table = spoiled(table, fault)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_project(Path(tmp), table)
        try:
            data = read_checked(Path(tmp))
        except ConfigError as err:
            assert any(name in str(err) for name in ("CollectedData_s.csv", "labeled-data/v/img", tmp)), str(err)
            assert faults or all(point is None for frame in cells for point in frame), str(err)
            return
    assert not faults, f"{faults} read without an error"
    assert data.image_paths == list(table.index)  # every frame once, in order
    expected = pd.DataFrame(table.to_numpy(np.float64), columns=COLUMNS).to_numpy().reshape(len(table), 1, -1, 2)
    labeled = np.isfinite(expected).all(axis=-1)
    assert (data.keypoints[..., 2] > 0).tolist() == labeled.tolist()
    np.testing.assert_allclose(data.keypoints[..., :2][labeled], expected[labeled], atol=1e-4)
    empty = [path for path, frame in zip(table.index, labeled) if not frame.any()]
    messages = " ".join(str(w.message) for w in caught)
    assert all(path in messages for path in empty[:3]), (empty, messages)
