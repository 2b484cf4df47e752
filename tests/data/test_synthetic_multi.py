import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from lightning_pose_arch.data.formats import LabeledData, read_coco, read_project
from lightning_pose_arch.data.synthetic import MARKER_COLORS
from lightning_pose_arch.data.synthetic_multi import (
    ASSET_SETTINGS,
    BODYPARTS,
    COCO_FILE,
    _gap,
    _place_animals,
    example_multi_animal_project,
    make_multi_animal_project,
)
from lightning_pose_arch.data.transforms import infer_flip_pairs


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_multi_animal_project(tmp_path_factory.mktemp("multi"), num_frames=16, max_animals=3, seed=5)


def read_both(root: Path) -> tuple[LabeledData, LabeledData]:
    """The DeepLabCut project and the COCO json of ``root``, checked to hold the same frames and animals."""
    dlc, coco = read_project(root), read_coco(root / COCO_FILE)
    assert dlc.image_paths == coco.image_paths and dlc.bodyparts == coco.bodyparts == list(BODYPARTS)
    assert dlc.skeleton == coco.skeleton and dlc.unique_bodyparts == ["marker"] and coco.unique_bodyparts == []
    assert dlc.config["multianimalproject"] is True and dlc.config["TrainingFraction"] == [0.8]
    n = coco.keypoints.shape[1]
    assert dlc.individuals[:n] == [f"animal{i + 1}" for i in range(n)] and not dlc.keypoints[:, n:, :, 2].any()
    np.testing.assert_array_equal(dlc.keypoints[:, :n, :, :2], coco.keypoints[..., :2])
    np.testing.assert_array_equal(dlc.keypoints[:, :n, :, 2], np.where(coco.keypoints[..., 2] > 0, 2, 0))
    return dlc, coco


def images(data: LabeledData) -> np.ndarray:
    return np.stack([cv2.imread(str(data.root / path))[..., ::-1] for path in data.image_paths])


def test_keypoints_sit_on_their_markers(project: Path) -> None:
    dlc, coco = read_both(project)
    frames, xy, visibility = images(coco), coco.keypoints[..., :2].astype(int), coco.keypoints[..., 2]
    f, n, k = np.nonzero(visibility > 0)
    under = frames[f, xy[f, n, k, 1], xy[f, n, k, 0]]
    marker = np.array(MARKER_COLORS)[k]
    shown = (under == marker).all(axis=-1)
    np.testing.assert_array_equal(shown, visibility[f, n, k] == 2)  # 1 = another animal covers the marker
    assert shown.mean() > 0.9
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):  # the disc is centred on the keypoint
        beside = frames[f[shown], xy[f, n, k, 1][shown] + dy, xy[f, n, k, 0][shown] + dx]
        assert (beside == marker[shown]).all(axis=-1).mean() > 0.95
    unique = dlc.unique_keypoints[:, 0, 0].astype(int)
    assert (dlc.unique_keypoints[..., 2] == 2).all()
    under_marker = frames[np.arange(len(frames)), unique[:, 1], unique[:, 0]]
    assert (under_marker == MARKER_COLORS[len(BODYPARTS)]).all(axis=-1).mean() > 0.8


def test_frames_have_one_to_max_animals_and_boxes_cover_them(project: Path) -> None:
    _, coco = read_both(project)
    counts = (coco.keypoints[..., 2] > 0).any(axis=-1).sum(axis=1)
    assert counts.min() >= 1 and counts.max() == 3 and len(set(counts.tolist())) == 3
    f, n, k = np.nonzero(coco.keypoints[..., 2] > 0)
    x, y = coco.keypoints[f, n, k, 0], coco.keypoints[f, n, k, 1]
    box = coco.bboxes[f, n]
    assert ((x > box[:, 0]) & (x < box[:, 0] + box[:, 2]) & (y > box[:, 1]) & (y < box[:, 1] + box[:, 3])).all()
    assert infer_flip_pairs(coco.bodyparts) == [(1, 2)]  # leftear / rightear
    snout, left, right, neck = (coco.keypoints[..., i, :2] for i in range(4))
    forward, across = snout - neck, left - right
    animal_left = forward[..., 1] * across[..., 0] - forward[..., 0] * across[..., 1]  # > 0: left ear on the left
    labeled = (coco.keypoints[..., [0, 1, 2, 3], 2] > 0).all(axis=-1)
    assert labeled.sum() >= 20 and (animal_left[labeled] > 0).all()


def test_touching_placement() -> None:
    rng = np.random.default_rng(0)
    touching = [_place_animals(rng, 2, True, 160, 192) for _ in range(20)]
    apart = [_place_animals(rng, 3, False, 160, 192) for _ in range(20)]
    assert sum(_gap(a, b) <= 0 for a, b in touching) >= 18
    assert sum(min(_gap(a, b), _gap(a, c), _gap(b, c)) >= 4 for a, b, c in apart) >= 18


def test_same_seed_same_project(project: Path, tmp_path: Path) -> None:
    again = make_multi_animal_project(tmp_path / "again", num_frames=16, max_animals=3, seed=5)
    other = make_multi_animal_project(tmp_path / "other", num_frames=16, max_animals=3, seed=6)
    first, second = read_coco(project / COCO_FILE), read_coco(again / COCO_FILE)
    np.testing.assert_array_equal(first.keypoints, second.keypoints)
    np.testing.assert_array_equal(images(first), images(second))
    assert (project / "config.yaml").read_text() == (again / "config.yaml").read_text()
    assert (project / "labeled-data/synthvideo/CollectedData_synth.csv").read_bytes() == \
        (again / "labeled-data/synthvideo/CollectedData_synth.csv").read_bytes()
    assert not np.array_equal(read_coco(other / COCO_FILE).keypoints[:2], first.keypoints[:2])


def test_shipped_asset_reads_both_ways_and_matches_a_fresh_generation(tmp_path: Path) -> None:
    asset = example_multi_animal_project()
    dlc, coco = read_both(asset)
    assert dlc.keypoints.shape == (60, 4, 7, 3) and dlc.individuals == ["animal1", "animal2", "animal3", "animal4"]
    fresh = read_coco(make_multi_animal_project(tmp_path / "fresh", **ASSET_SETTINGS) / COCO_FILE)
    np.testing.assert_array_equal(fresh.keypoints, coco.keypoints)
    np.testing.assert_array_equal(fresh.bboxes, coco.bboxes)
    np.testing.assert_array_equal(images(fresh), images(coco))
    touching = [frame for frame in range(60) if _boxes_overlap(coco.bboxes[frame, 0], coco.bboxes[frame, 1])]
    assert len(touching) >= 5
    size = sum(p.stat().st_size for p in asset.rglob("*") if p.is_file())
    assert size < 1.5e6


def _boxes_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a[2] > 0 and b[2] > 0 and a[0] < b[0] + b[2] and b[0] < a[0] + a[2]
                and a[1] < b[1] + b[3] and b[1] < a[1] + a[3])


@pytest.mark.parametrize(("setting", "value"), [("num_frames", 0), ("max_animals", 0), ("image_size", (32, 192)),
                                                ("touching_fraction", 1.5)])
def test_bad_settings_are_refused(tmp_path: Path, setting: str, value) -> None:
    message = rf"make_multi_animal_project {setting} must be .*, got {re.escape(str(value))}$"
    with pytest.raises(ValueError, match=message):
        make_multi_animal_project(tmp_path, **{setting: value})
