"""COCO keypoints json: one category with named ``keypoints``; one annotation per individual.

Conventions of this reader and writer:

- Image files: ``file_name`` is relative to ``image_root``, by default the
  folder of the json file (write the json beside the images' root, or pass
  ``image_root``). :class:`LabeledData` ``image_paths`` are the ``file_name`` values.
- Coordinates are used as they are: like this package, they are read as
  pixel-center-at-integer coordinates (no half-pixel shift).
- ``keypoints`` is flat ``[x, y, v] * K``; v = 0 is unlabeled (x = y = 0 are
  stored), 1 labeled but not visible, 2 visible. ``num_keypoints`` is
  written (count of v > 0) but not needed when reading.
- ``skeleton`` is a list of 1-based keypoint index pairs.
- The category may carry ``sigmas`` (K OKS sigmas) and ``flip_pairs``
  (left/right pairs, given as two names or two 0-based indices); without
  ``sigmas``, the 17 COCO person keypoints get COCO's standard sigmas.
- Annotations become individuals in file order per image, N = the most
  annotations of one image (an annotation without ``keypoints`` is an
  individual with none labeled); ``iscrowd`` annotations and annotations of
  other categories are left out, with a warning that counts them.
- ``bbox`` is ``[x, y, w, h]``; a file whose annotations have no ``bbox``
  reads as ``bboxes`` None.
- Images without annotations are kept as frames without labels (with a warning).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from lightning_pose_arch.data.formats.base import LabeledData, atomic_output, shortest_decimals, warn_unlabeled_frames
from lightning_pose_arch.data.images import image_size
from lightning_pose_arch.data.validation import check_coco_ids, check_coco_keypoints
from lightning_pose_arch.registry import ConfigError

COCO_PERSON_SIGMAS = {
    "nose": 0.026, "left_eye": 0.025, "right_eye": 0.025, "left_ear": 0.035, "right_ear": 0.035,
    "left_shoulder": 0.079, "right_shoulder": 0.079, "left_elbow": 0.072, "right_elbow": 0.072,
    "left_wrist": 0.062, "right_wrist": 0.062, "left_hip": 0.107, "right_hip": 0.107,
    "left_knee": 0.087, "right_knee": 0.087, "left_ankle": 0.089, "right_ankle": 0.089,
}
DEFAULT_CATEGORY = "animal"


def read_coco(annotation_file: str | Path, image_root: str | Path | None = None) -> LabeledData:
    """Read a COCO keypoints json into :class:`LabeledData` (see the module docstring for conventions).

    Args:
        annotation_file: The json file.
        image_root: Folder the images' ``file_name`` are relative to (default: the json's folder).
    """
    path = Path(annotation_file)
    content = _load_json(path)
    root = Path(image_root) if image_root is not None else path.parent
    images = _section(content, "images", path)
    category = _keypoint_category(_section(content, "categories", path), path)
    bodyparts = [str(name) for name in category["keypoints"]]
    image_paths = [_image_path(image, i, path) for i, image in enumerate(images)]
    _check_images_exist(root, image_paths, path)
    annotations = _kept_annotations(_section(content, "annotations", path), category["id"], path)
    check_coco_ids(images, annotations, path)
    keypoints, bboxes = _individuals(annotations, images, bodyparts, path)
    data = LabeledData(
        root=root,
        config={"info": content.get("info") or {}, "category_name": category.get("name", DEFAULT_CATEGORY),
                "supercategory": category.get("supercategory", category.get("name", DEFAULT_CATEGORY))},
        bodyparts=bodyparts, individuals=[f"individual{n}" for n in range(keypoints.shape[1])],
        image_paths=image_paths, keypoints=keypoints, unique_bodyparts=[],
        unique_keypoints=np.zeros((len(images), 1, 0, 3), np.float32),
        skeleton=_skeleton(category, bodyparts, path), flip_pairs=_flip_pairs(category, bodyparts, path),
        sigmas=_sigmas(category, bodyparts, path), bboxes=bboxes,
    )
    warn_unlabeled_frames(path, data)
    return data


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"COCO annotation file {path} not found")
    try:
        content = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: invalid json: {err}") from err
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a json object with images, annotations and categories")
    return content


def _section(content: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    section = content.get(key)
    if not isinstance(section, list) or not all(isinstance(item, dict) for item in section):
        raise ConfigError(f"{path}: '{key}' must be a list of objects (a COCO keypoints file has images, "
                          "annotations and categories)")
    return section


def _keypoint_category(categories: list[dict[str, Any]], path: Path) -> dict[str, Any]:
    with_keypoints = [c for c in categories if c.get("keypoints")]
    if len(with_keypoints) != 1:
        raise ConfigError(f"{path}: categories: expected exactly one category with a 'keypoints' list of names, "
                          f"found {len(with_keypoints)} ({[c.get('name') for c in with_keypoints]})")
    if "id" not in with_keypoints[0]:
        raise ConfigError(f"{path}: categories: the keypoint category has no 'id'")
    return with_keypoints[0]


def _image_path(image: dict[str, Any], index: int, path: Path) -> str:
    if "id" not in image or not isinstance(image.get("file_name"), str):
        raise ConfigError(f"{path}: images[{index}] needs an 'id' and a 'file_name'")
    return image["file_name"].replace("\\", "/")


def _check_images_exist(root: Path, image_paths: list[str], path: Path) -> None:
    missing = [p for p in image_paths if not (root / p).is_file()]
    if missing:
        raise FileNotFoundError(f"{path}: {len(missing)} of {len(image_paths)} images (file_name) are not under "
                                f"{root}, e.g. {missing[:3]}; pass image_root= if they live elsewhere")


def _kept_annotations(annotations: list[dict[str, Any]], category_id: int, path: Path) -> list[dict[str, Any]]:
    """Annotations of the keypoint category that are not crowds; the others are counted in a warning."""
    crowd = [a for a in annotations if a.get("iscrowd")]
    other = [a for a in annotations if not a.get("iscrowd") and a.get("category_id", category_id) != category_id]
    if crowd or other:
        warnings.warn(f"{path}: left out {len(crowd)} iscrowd annotations and {len(other)} annotations of "
                      f"categories other than {category_id} (they are not individuals)", UserWarning, stacklevel=3)
    return [a for a in annotations if not a.get("iscrowd") and a.get("category_id", category_id) == category_id]


def _individuals(
    annotations: list[dict[str, Any]], images: list[dict[str, Any]], bodyparts: list[str], path: Path
) -> tuple[np.ndarray, np.ndarray | None]:
    """Annotations → keypoints ``[F, N, K, 3]`` and bboxes ``[F, N, 4]`` (None when no annotation has one)."""
    num_kpts = len(bodyparts)
    frame_of = {image["id"]: f for f, image in enumerate(images)}
    frames, slots, flat, boxes = [], [], [], []
    used = np.zeros(len(images), np.int64)
    for i, annotation in enumerate(annotations):
        where = f"{path}: annotations[{i}] (id {annotation.get('id')})"
        if annotation.get("image_id") not in frame_of:
            raise ConfigError(f"{where}: image_id {annotation.get('image_id')!r} is not in images")
        values = annotation.get("keypoints", [0] * 3 * num_kpts)
        if not isinstance(values, list) or len(values) != 3 * num_kpts:
            raise ConfigError(f"{where}: 'keypoints' must hold 3 * {num_kpts} numbers [x, y, v, ...], "
                              f"got {len(values) if isinstance(values, list) else type(values).__name__}")
        check_coco_keypoints(values, bodyparts, where)
        bbox = annotation.get("bbox")
        if bbox is not None and (not isinstance(bbox, list) or len(bbox) != 4):
            raise ConfigError(f"{where}: 'bbox' must be [x, y, w, h], got {bbox!r}")
        frame = frame_of[annotation["image_id"]]
        frames.append(frame)
        slots.append(used[frame])
        used[frame] += 1
        flat.append(values)
        boxes.append(bbox)
    keypoints = np.zeros((len(images), max(1, int(used.max(initial=0))), num_kpts, 3), np.float32)
    if flat:
        values = np.asarray(flat, np.float32).reshape(len(flat), num_kpts, 3)
        _zero_unlabeled(values, annotations, bodyparts, path)
        keypoints[frames, slots] = values
    if all(box is None for box in boxes):
        return keypoints, None
    bboxes = np.zeros((*keypoints.shape[:2], 4), np.float32)
    bboxes[frames, slots] = np.asarray([box or [0, 0, 0, 0] for box in boxes], np.float32)
    return keypoints, bboxes


def _zero_unlabeled(values: np.ndarray, annotations: list[dict[str, Any]], bodyparts: list[str], path: Path) -> None:
    """Set x = y = 0 where v = 0 (COCO's convention), warning when that changes stored coordinates."""
    unlabeled = values[..., 2] == 0
    moved = unlabeled & (np.nan_to_num(values[..., :2]) != 0).any(axis=-1)
    if moved.any():
        index, k = np.argwhere(moved)[0]
        warnings.warn(f"{path}: {int(moved.sum())} keypoint(s) have v=0 (unlabeled) but non-zero coordinates, e.g. "
                      f"annotations[{index}] (id {annotations[index].get('id')}) {bodyparts[k]!r} at "
                      f"x={values[index, k, 0]:g}, y={values[index, k, 1]:g}: they are read as unlabeled (set v=1 "
                      "or v=2 to keep them)", UserWarning, stacklevel=4)
    values[unlabeled] = 0.0


def _skeleton(category: dict[str, Any], bodyparts: list[str], path: Path) -> list[list[str]]:
    edges = category.get("skeleton") or []
    if not all(_is_index_pair(edge, 1, len(bodyparts)) for edge in edges):
        raise ConfigError(f"{path}: categories: 'skeleton' must list pairs of 1-based keypoint indices "
                          f"in 1..{len(bodyparts)}, got {edges}")
    return [[bodyparts[a - 1], bodyparts[b - 1]] for a, b in edges]


def _flip_pairs(category: dict[str, Any], bodyparts: list[str], path: Path) -> list[tuple[str, str]] | None:
    pairs = category.get("flip_pairs")
    if pairs is None:
        return None
    names = []
    for pair in pairs:
        if _is_index_pair(pair, 0, len(bodyparts) - 1):
            names.append((bodyparts[pair[0]], bodyparts[pair[1]]))
        elif isinstance(pair, list) and len(pair) == 2 and all(name in bodyparts for name in pair):
            names.append((pair[0], pair[1]))
        else:
            raise ConfigError(f"{path}: categories: 'flip_pairs' entries must be two keypoint names or two "
                              f"0-based indices in 0..{len(bodyparts) - 1}, got {pair!r}")
    return names


def _is_index_pair(pair: Any, low: int, high: int) -> bool:
    return (isinstance(pair, list) and len(pair) == 2
            and all(isinstance(i, int) and not isinstance(i, bool) and low <= i <= high for i in pair))


def _sigmas(category: dict[str, Any], bodyparts: list[str], path: Path) -> np.ndarray | None:
    if "sigmas" in category:
        sigmas = category["sigmas"]
        if not isinstance(sigmas, list) or len(sigmas) != len(bodyparts):
            raise ConfigError(f"{path}: categories: 'sigmas' must hold one number per keypoint "
                              f"({len(bodyparts)}), got {sigmas!r}")
        return np.asarray(sigmas, np.float32)
    if len(bodyparts) == len(COCO_PERSON_SIGMAS) and set(bodyparts) == set(COCO_PERSON_SIGMAS):
        return np.asarray([COCO_PERSON_SIGMAS[name] for name in bodyparts], np.float32)
    return None


def write_coco(data: LabeledData, path: str | Path) -> Path:
    """Write ``data`` as a COCO keypoints json (atomically) and return its path.

    ``file_name`` is each image path, relative to ``data.root``: write the json
    into ``data.root`` (or read it back with ``image_root=data.root``) and
    :func:`read_coco` returns the same :class:`LabeledData`. Image ``width``
    and ``height`` are read from the files. Individuals with neither a labeled
    keypoint nor a box are not written; boxes come from ``data.bboxes`` or,
    without them, from the labeled keypoints' extent; ``area`` is ``w * h``.
    COCO has no unique keypoints: drop them first (``dataclasses.replace``),
    labeled ones raise ValueError rather than vanish.
    """
    path = Path(path)
    if (data.unique_keypoints[..., 2] > 0).any():
        raise ValueError(f"write_coco: COCO files have no place for the unique bodyparts {data.unique_bodyparts}; "
                         "replace unique_bodyparts/unique_keypoints with empty ones to write the individuals only")
    content = {
        "info": data.config.get("info") or {},
        "images": [_image_entry(data.root, p, f) for f, p in enumerate(data.image_paths)],
        "annotations": _annotation_entries(data),
        "categories": [_category_entry(data)],
    }
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(content))
    return path


def _image_entry(root: Path, image_path: str, frame: int) -> dict[str, Any]:
    width, height = image_size(Path(root) / image_path)
    return {"id": frame + 1, "file_name": image_path, "width": width, "height": height}


def _annotation_entries(data: LabeledData) -> list[dict[str, Any]]:
    labeled = data.keypoints[..., 2] > 0
    boxes = data.bboxes if data.bboxes is not None else _keypoint_extents(data.keypoints)
    used = labeled.any(axis=-1) | (boxes[..., 2:] > 0).any(axis=-1)
    entries = []
    for frame, slot in zip(*np.nonzero(used)):
        keypoints = data.keypoints[frame, slot]
        box = _json_floats(boxes[frame, slot])
        entries.append({
            "id": len(entries) + 1, "image_id": int(frame) + 1, "category_id": 1,
            "keypoints": [v for x, y, vis in zip(_json_floats(keypoints[:, 0]), _json_floats(keypoints[:, 1]),
                                                 keypoints[:, 2].astype(int).tolist()) for v in (x, y, vis)],
            "num_keypoints": int(labeled[frame, slot].sum()), "bbox": box, "area": box[2] * box[3], "iscrowd": 0,
        })
    return entries


def _keypoint_extents(keypoints: np.ndarray) -> np.ndarray:
    """``[F, N, K, 3]`` → ``[F, N, 4]`` x, y, w, h of the labeled keypoints (zeros without any)."""
    labeled = keypoints[..., 2:] > 0
    low = np.where(labeled, keypoints[..., :2], np.inf).min(axis=-2)
    high = np.where(labeled, keypoints[..., :2], -np.inf).max(axis=-2)
    boxes = np.concatenate([low, high - low], axis=-1)
    return np.where(labeled.any(axis=-2), boxes, 0.0).astype(np.float32)


def _json_floats(values: np.ndarray) -> list[float]:
    return shortest_decimals(values).tolist()


def _category_entry(data: LabeledData) -> dict[str, Any]:
    index = {name: i for i, name in enumerate(data.bodyparts)}
    name = data.config.get("category_name", DEFAULT_CATEGORY)
    category = {"id": 1, "name": name, "supercategory": data.config.get("supercategory", name),
                "keypoints": list(data.bodyparts), "skeleton": [[index[a] + 1, index[b] + 1] for a, b in data.skeleton]}
    if data.sigmas is not None:
        category["sigmas"] = _json_floats(data.sigmas)
    if data.flip_pairs is not None:
        category["flip_pairs"] = [list(pair) for pair in data.flip_pairs]
    return category
