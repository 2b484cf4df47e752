import copy
import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lightning_pose_arch.data.formats import read_coco, write_coco
from lightning_pose_arch.data.formats.coco import COCO_PERSON_SIGMAS
from lightning_pose_arch.registry import ConfigError

COCO = {
    "info": {"description": "tiny"},
    "images": [{"id": 7, "file_name": "img/a.png", "width": 40, "height": 30},
               {"id": 9, "file_name": "img/b.png", "width": 40, "height": 30},
               {"id": 11, "file_name": "img/c.png", "width": 40, "height": 30}],
    "annotations": [
        {"id": 1, "image_id": 9, "category_id": 3, "keypoints": [10, 12, 2, 0, 0, 0, 5.5, 6, 1], "num_keypoints": 2,
         "bbox": [4, 5, 10, 11], "iscrowd": 0},
        {"id": 2, "image_id": 7, "category_id": 3, "keypoints": [1, 2, 2, 3, 4, 2, 5, 6, 2], "bbox": [1, 2, 4, 4]},
        {"id": 3, "image_id": 9, "category_id": 3, "keypoints": [20, 21, 1, 22, 23, 2, 7, 7, 0],
         "bbox": [19, 20, 3, 3], "iscrowd": 0},
        {"id": 4, "image_id": 7, "category_id": 3, "keypoints": [0] * 9, "bbox": [0, 0, 40, 30], "iscrowd": 1},
    ],
    "categories": [{"id": 3, "name": "mouse", "supercategory": "animal", "keypoints": ["nose", "left_ear", "right_ear"],
                    "skeleton": [[1, 2], [1, 3]], "sigmas": [0.025, 0.035, 0.035], "flip_pairs": [[1, 2]]}],
}
EXPECTED_KEYPOINTS = [[[[1, 2, 2], [3, 4, 2], [5, 6, 2]], [[0, 0, 0]] * 3],
                      [[[10, 12, 2], [0, 0, 0], [5.5, 6, 1]], [[20, 21, 1], [22, 23, 2], [0, 0, 0]]],  # v=0 drops x, y
                      [[[0, 0, 0]] * 3] * 2]
EXPECTED_BBOXES = [[[1, 2, 4, 4], [0, 0, 0, 0]], [[4, 5, 10, 11], [19, 20, 3, 3]], [[0, 0, 0, 0]] * 2]


def write_json(folder: Path, content: dict, images: bool = True) -> Path:
    if images:
        (folder / "img").mkdir(parents=True, exist_ok=True)
        for name in ("a", "b", "c"):
            Image.new("RGB", (40, 30)).save(folder / "img" / f"{name}.png")
    path = folder / "labels.json"
    path.write_text(json.dumps(content))
    return path


def read_tiny(path: Path, image_root: Path | None = None):
    with pytest.warns(UserWarning) as caught:
        data = read_coco(path, image_root=image_root)
    messages = [str(w.message) for w in caught]
    assert any("left out 1 iscrowd annotations and 0 annotations of categories other than 3" in m for m in messages)
    assert any("1 of 3 labeled frames" in m and "img/c.png" in m for m in messages)
    return data


def test_read_coco_exact_values(tmp_path: Path) -> None:
    data = read_tiny(write_json(tmp_path, COCO))
    assert data.root == tmp_path and data.image_paths == ["img/a.png", "img/b.png", "img/c.png"]
    assert data.bodyparts == ["nose", "left_ear", "right_ear"] and data.individuals == ["individual0", "individual1"]
    assert data.keypoints.dtype == np.float32
    np.testing.assert_array_equal(data.keypoints, EXPECTED_KEYPOINTS)
    np.testing.assert_array_equal(data.bboxes, EXPECTED_BBOXES)
    assert data.skeleton == [["nose", "left_ear"], ["nose", "right_ear"]]
    np.testing.assert_array_equal(data.sigmas, np.array([0.025, 0.035, 0.035], np.float32))
    assert data.flip_pairs == [("left_ear", "right_ear")]
    assert data.unique_bodyparts == [] and data.unique_keypoints.shape == (3, 1, 0, 3)
    assert data.config == {"info": {"description": "tiny"}, "category_name": "mouse", "supercategory": "animal"}


def test_write_coco_round_trip(tmp_path: Path, assert_same_labels) -> None:
    data = read_tiny(write_json(tmp_path, COCO))
    write_coco(data, tmp_path / "out.json")
    written = json.loads((tmp_path / "out.json").read_text())
    assert [image["id"] for image in written["images"]] == [1, 2, 3]
    assert written["images"][1] == {"id": 2, "file_name": "img/b.png", "width": 40, "height": 30}
    assert [(a["image_id"], a["num_keypoints"], a["area"], a["iscrowd"], a["category_id"])
            for a in written["annotations"]] == [(1, 3, 16.0, 0, 1), (2, 2, 110.0, 0, 1), (2, 2, 9.0, 0, 1)]
    assert written["annotations"][1]["keypoints"] == [10.0, 12.0, 2, 0.0, 0.0, 0, 5.5, 6.0, 1]
    assert written["categories"][0]["skeleton"] == [[1, 2], [1, 3]]
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".json"] == ["labels.json", "out.json"]  # no temp files
    with pytest.warns(UserWarning, match="1 of 3 labeled frames"):
        assert_same_labels(data, read_coco(tmp_path / "out.json"), ignore=())


def test_boxes_default_to_the_keypoint_extent(tmp_path: Path) -> None:
    data = dataclasses.replace(read_tiny(write_json(tmp_path, COCO)), bboxes=None, flip_pairs=None)
    write_coco(data, tmp_path / "out.json")
    with pytest.warns(UserWarning, match="1 of 3 labeled frames"):
        again = read_coco(tmp_path / "out.json")
    expected = [[[1, 2, 4, 4], [0] * 4], [[5.5, 6, 4.5, 6], [20, 21, 2, 2]], [[0] * 4] * 2]
    np.testing.assert_array_equal(again.bboxes, expected)
    assert again.flip_pairs is None


def test_image_root_and_flip_pairs_by_name(tmp_path: Path) -> None:
    content = copy.deepcopy(COCO)
    content["categories"][0]["flip_pairs"] = [["right_ear", "left_ear"]]
    (tmp_path / "annotations").mkdir()
    write_json(tmp_path, {})
    path = write_json(tmp_path / "annotations", content, images=False)
    data = read_tiny(path, image_root=tmp_path)
    assert data.root == tmp_path and data.flip_pairs == [("right_ear", "left_ear")]
    with pytest.raises(FileNotFoundError, match=r"labels\.json: 3 of 3 images \(file_name\) are not under"):
        read_coco(path)


def test_coco_person_keypoints_get_standard_sigmas(tmp_path: Path) -> None:
    names = list(COCO_PERSON_SIGMAS)
    content = {"images": [{"id": 1, "file_name": "img/a.png"}],
               "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": [5, 5, 2] * 17}],
               "categories": [{"id": 1, "name": "person", "keypoints": names[::-1]}]}
    data = read_coco(write_json(tmp_path, content))
    assert data.sigmas[0] == np.float32(0.089) and data.sigmas[-1] == np.float32(0.026)  # by name, any order
    assert data.bboxes is None and data.skeleton == [] and data.flip_pairs is None
    content["categories"][0]["keypoints"] = names[:16] + ["tail"]
    content["annotations"][0]["keypoints"] = [5, 5, 2] * 17
    assert read_coco(write_json(tmp_path, content)).sigmas is None


def mutate(path: list, value) -> dict:
    content = copy.deepcopy(COCO)
    target = content
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return content


@pytest.mark.parametrize(("content", "error", "match"), [
    (mutate(["categories", 0, "keypoints"], KeyError), ConfigError, "categories: expected exactly one category with"),
    (mutate(["annotations", 2, "keypoints"], [1, 2, 2]), ConfigError,
     r"annotations\[2\] \(id 3\): 'keypoints' must hold 3 \* 3 numbers .* got 3"),
    (mutate(["annotations", 0, "image_id"], 99), ConfigError,
     r"annotations\[0\] \(id 1\): image_id 99 is not in images"),
    (mutate(["annotations", 0, "keypoints", 2], 3), ConfigError, "visibility v must be 0, 1 or 2"),
    (mutate(["annotations", 0, "bbox"], [1, 2]), ConfigError, r"annotations\[0\] \(id 1\): 'bbox' must be"),
    (mutate(["images", 1, "file_name"], "img/zzz.png"), FileNotFoundError, r"1 of 3 images .* \['img/zzz.png'\]"),
    (mutate(["images", 1, "id"], KeyError), ConfigError, r"images\[1\] needs an 'id' and a 'file_name'"),
    (mutate(["categories", 0, "skeleton"], [[0, 1]]), ConfigError, r"'skeleton' must list pairs of 1-based .* 1\.\.3"),
    (mutate(["categories", 0, "sigmas"], [0.1]), ConfigError, r"'sigmas' must hold one number per keypoint \(3\)"),
    (mutate(["categories", 0, "flip_pairs"], [[1, 3]]), ConfigError, r"'flip_pairs' entries .* got \[1, 3\]"),
    (mutate(["annotations"], KeyError), ConfigError, "'annotations' must be a list of objects"),
])
def test_malformed_files_name_the_file_and_key(tmp_path: Path, content: dict, error: type, match: str) -> None:
    path = write_json(tmp_path, content)
    with pytest.raises(error, match=rf"labels\.json: .*{match}"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the iscrowd count, when reading gets that far
        read_coco(path)


def test_invalid_json_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "labels.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"labels\.json: invalid json"):
        read_coco(tmp_path / "labels.json")
    with pytest.raises(FileNotFoundError, match=r"nothing\.json not found"):
        read_coco(tmp_path / "nothing.json")


def test_write_coco_refuses_to_drop_unique_keypoints(tmp_path: Path) -> None:
    data = read_tiny(write_json(tmp_path, COCO))
    unique = np.zeros((3, 1, 1, 3), np.float32)
    unique[1, 0, 0] = [3, 4, 2]
    with pytest.raises(ValueError, match=r"no place for the unique bodyparts \['box'\]"):
        write_coco(dataclasses.replace(data, unique_bodyparts=["box"], unique_keypoints=unique), tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()
