import os
from pathlib import Path

import numpy as np
import pytest

from lightning_pose_arch.data.formats import LabeledData
from lightning_pose_arch.data.formats.base import atomic_output, shortest_decimals


def labeled(**changes) -> LabeledData:
    fields = dict(root=Path("."), config={}, bodyparts=["leftpaw", "rightpaw"], individuals=["a", "b", "c"],
                  image_paths=["x.png"], keypoints=np.zeros((1, 3, 2, 3), np.float32), unique_bodyparts=["box"],
                  unique_keypoints=np.zeros((1, 1, 1, 3), np.float32), skeleton=[["leftpaw", "box"]],
                  flip_pairs=[("leftpaw", "rightpaw")], sigmas=np.ones(2, np.float32),
                  bboxes=np.zeros((1, 3, 4), np.float32))
    return LabeledData(**{**fields, **changes})


def test_consistent_fields_are_accepted() -> None:
    assert labeled().num_frames == 1


@pytest.mark.parametrize(("changes", "match"), [
    (dict(keypoints=np.zeros((1, 2, 2, 3))), r"keypoints has shape \(1, 2, 2, 3\), expected \(1, 3, 2, 3\)"),
    (dict(unique_keypoints=np.zeros((1, 1, 0, 3))),
     r"unique_keypoints has shape \(1, 1, 0, 3\), expected \(1, 1, 1, 3\)"),
    (dict(sigmas=np.ones(3)), r"sigmas has shape \(3,\), expected \(2,\)"),
    (dict(bboxes=np.zeros((2, 3, 4))), r"bboxes has shape \(2, 3, 4\), expected \(1, 3, 4\)"),
    (dict(skeleton=[["leftpaw", "tail"]]), r"name unknown bodyparts \['tail'\]"),
    (dict(flip_pairs=[("leftpaw", "box")]), r"name unknown bodyparts \['box'\]"),  # unique ones never flip
])
def test_inconsistent_fields_are_refused(changes: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        labeled(**changes)


def test_atomic_output_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "labels.csv"
    target.write_text("old")
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["labels.csv"]
    with atomic_output(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o640


def test_shortest_decimals_read_back_to_the_same_float32() -> None:
    values = np.array([21.521, 0.026, np.nan, 1e-8, 123456.79], np.float32)
    short = shortest_decimals(values)
    assert short.dtype == np.float64 and short[0] == 21.521 and short[1] == 0.026 and np.isnan(short[2])
    np.testing.assert_array_equal(short.astype(np.float32), values)
