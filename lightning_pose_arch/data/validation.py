"""Schemas for what enters the data side: DeepLabCut ``config.yaml``, label tables, label/image agreement,
split files and data module arguments.

Each check raises :class:`ConfigError` naming the file, the frame (row), the column or key and the
value, and says what is valid; nothing is dropped or changed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from lightning_pose_arch.registry import ConfigError, check_types

if TYPE_CHECKING:  # the format readers import this module
    from lightning_pose_arch.data.formats.base import LabeledData

DLC_CONFIG_SCHEMA: dict[str, Any] = {
    "scorer": str | int,
    "bodyparts": list[str] | Literal["MULTI!"] | None,
    "multianimalbodyparts": list[str] | None,
    "uniquebodyparts": list[str] | None,
    "individuals": list[str] | None,
    "TrainingFraction": list[float] | None,
    "multianimalproject": bool | None,
    "skeleton": list[tuple[str, str]] | None,
}
NAME_LISTS = ("bodyparts", "multianimalbodyparts", "uniquebodyparts", "individuals")
MAX_LISTED = 5  # offending items quoted in one message


def check_dlc_config(config: Mapping[str, Any], path: Path) -> None:
    """``config.yaml``'s keys that this package reads have DeepLabCut's types; names are unique.

    A string where a list belongs (``bodyparts: "snout, leftear"``) is refused rather than
    read character by character, and the message shows the list it probably meant.
    """
    for key, annotation in DLC_CONFIG_SCHEMA.items():
        if key not in config:
            continue
        try:
            check_types(dict, {key: config[key]}, where=f"{path}:", hints={key: annotation})
        except ConfigError as err:
            raise ConfigError(str(err).replace(": argument ", ": key ", 1) + _list_hint(key, config[key])) from None
    for key in NAME_LISTS:
        names = config.get(key)
        if isinstance(names, list):
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ConfigError(f"{path}: {key} lists {repeated} more than once; each name must be unique")
    fractions = config.get("TrainingFraction") or []
    outside = [f for f in fractions if not 0.0 < float(f) <= 1.0]
    if outside:
        raise ConfigError(f"{path}: TrainingFraction values must be in (0, 1], got {outside}")


def _list_hint(key: str, value: Any) -> str:
    if isinstance(value, str) and key in NAME_LISTS:
        names = [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return f"; write a YAML list, e.g. {key}: [{', '.join(names)}]"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "TrainingFraction":
        return f"; write a YAML list, e.g. TrainingFraction: [{value}]"
    return ""


def check_label_table(table: pd.DataFrame, keys: Sequence[tuple[str, ...]], source: Path) -> None:
    """One DeepLabCut label table (scorer level dropped) holds each frame once, an x and a y column for every
    ``key`` (``(bodypart,)`` or ``(individual, bodypart)``), and only numbers (or empty cells) there."""
    repeated = table.index[table.index.duplicated(keep=False)]
    if len(repeated):
        frame = repeated[0]
        rows = [i + 1 for i, name in enumerate(table.index) if name == frame]
        same = len(table.loc[[frame]].drop_duplicates()) == 1
        raise ConfigError(
            f"{source}: frame {frame} is listed {len(rows)} times (data rows {rows}, "
            f"{'identical' if same else 'with different labels'}); {len(set(repeated))} frame(s) repeat in all. "
            "Each frame must appear once: delete the extra rows (keep the labels you want)")
    doubled = table.columns[table.columns.duplicated()]
    if len(doubled):
        raise ConfigError(f"{source}: column {' / '.join(map(str, doubled[0]))} appears more than once; each "
                          "bodypart's x and y must appear once")
    columns = [key + (coord,) for key in keys for coord in ("x", "y")]
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ConfigError(f"{source}: label columns missing: {[' / '.join(c) for c in missing[:MAX_LISTED]]}; every "
                          "bodypart needs an x and a y column")
    for column in columns:
        _check_numeric(table[column], " / ".join(column), source)
    for key in keys:
        _check_both_coordinates(table, key, source)


def _check_both_coordinates(table: pd.DataFrame, key: tuple[str, ...], source: Path) -> None:
    x, y = (pd.to_numeric(table[key + (coord,)], errors="coerce") for coord in ("x", "y"))
    half = x.isna() != y.isna()
    if half.any():
        row = int(half.to_numpy().argmax())
        shown = ["empty" if np.isnan(value) else f"{value:g}" for value in (x.iloc[row], y.iloc[row])]
        raise ConfigError(f"{source}: frame {table.index[row]}, bodypart {' / '.join(key)}: x={shown[0]}, "
                          f"y={shown[1]} - one coordinate is empty ({int(half.sum())} such label(s)); give both x "
                          "and y, or leave both empty for an unlabeled keypoint")


def _check_numeric(cells: pd.Series, column: str, source: Path) -> None:
    values = pd.to_numeric(cells, errors="coerce")
    bad = (values.isna() & cells.notna() & (cells.astype(str).str.strip() != "")) | np.isinf(values.astype(float))
    if bad.any():
        frame = cells.index[bad.to_numpy().argmax()]
        raise ConfigError(f"{source}: frame {frame}, column {column}: {cells[bad].iloc[0]!r} is not a number "
                          f"({int(bad.sum())} such cell(s) in this column); label cells hold a finite number, or "
                          "are empty for an unlabeled keypoint")


def check_labels_inside_images(data: LabeledData, sizes: Mapping[str, tuple[int, int]]) -> None:
    """Every labeled keypoint lies on its image: x in [-0.5, width - 0.5], y in [-0.5, height - 0.5]
    (pixel centers at integers). ``sizes`` maps image path → (width, height) as decoded."""
    problems = []
    for names, keypoints in ((data.bodyparts, data.keypoints), (data.unique_bodyparts, data.unique_keypoints)):
        size = np.array([sizes[path] for path in data.image_paths], np.float32).reshape(-1, 1, 1, 2)
        labeled = keypoints[..., 2] > 0
        outside = labeled & ((keypoints[..., :2] < -0.5) | (keypoints[..., :2] > size - 0.5)).any(axis=-1)
        for frame, individual, part in zip(*np.nonzero(outside)):
            x, y = keypoints[frame, individual, part, :2]
            width, height = sizes[data.image_paths[frame]]
            who = "" if len(data.individuals) == 1 else f"{data.individuals[individual]} "
            problems.append(f"{data.image_paths[frame]} {who}{names[part]} at x={x:g}, y={y:g} "
                            f"(image {width}×{height})")
    if problems:
        raise ConfigError(
            f"{len(problems)} label(s) in {data.root} lie outside their image: {'; '.join(problems[:MAX_LISTED])}. "
            "Labels must be in x ∈ [-0.5, width - 0.5], y ∈ [-0.5, height - 0.5]: correct them, or delete them "
            "to leave the keypoint unlabeled")


def check_some_label(data: LabeledData) -> None:
    """At least one keypoint is labeled somewhere: otherwise training has no loss at all."""
    if not (data.keypoints[..., 2] > 0).any() and not (data.unique_keypoints[..., 2] > 0).any():
        raise ConfigError(f"{data.root}: none of the {data.num_frames} labeled frames has a labeled keypoint "
                          "(every coordinate is empty/NaN or has visibility 0): there is nothing to train on; "
                          "label keypoints first")


def check_normalization(normalization: Mapping[str, Any] | None) -> None:
    """``{"mean": [3 numbers], "std": [3 positive numbers]}`` (RGB, images scaled to [0, 1])."""
    if normalization is None:
        return
    if set(normalization) != {"mean", "std"}:
        raise ConfigError(f"PoseDataModule normalization must have exactly the keys 'mean' and 'std', got "
                          f"{sorted(normalization)}")
    for key in ("mean", "std"):
        values = list(normalization[key])
        if len(values) != 3 or (key == "std" and any(float(v) <= 0 for v in values)):
            rule = "3 positive numbers" if key == "std" else "3 numbers"
            raise ConfigError(f"PoseDataModule normalization {key} must be {rule} (one per RGB channel, for "
                              f"images in [0, 1]; ImageNet: mean [0.485, 0.456, 0.406], std [0.229, 0.224, "
                              f"0.225]), got {values}")


def check_coco_ids(images: list[dict[str, Any]], annotations: list[dict[str, Any]], path: Path) -> None:
    """Image ids, image ``file_name``s and annotation ids are unique (else one frame would be read twice)."""
    for section, entries, field in (("images", images, "id"), ("images", images, "file_name"),
                                    ("annotations", annotations, "id")):
        first: dict[Any, int] = {}
        for index, entry in enumerate(entries):
            value = entry.get(field)
            if value is None:
                continue
            if value in first:
                raise ConfigError(f"{path}: {section}[{first[value]}] and {section}[{index}] have the same {field} "
                                  f"{value!r}; each {field} must be unique (merge the two entries, or give each "
                                  "its own)")
            first[value] = index


def check_coco_keypoints(values: list[Any], bodyparts: Sequence[str], where: str) -> None:
    """One annotation's flat ``[x, y, v] * K``: numbers, v in {0, 1, 2}, and numeric x, y wherever v > 0."""
    for k, name in enumerate(bodyparts):
        x, y, v = values[3 * k: 3 * k + 3]
        if v not in (0, 1, 2) or isinstance(v, bool):
            raise ConfigError(f"{where}: keypoint {name!r} has v={v!r}: visibility v must be 0, 1 or 2 (unlabeled, "
                              "labeled but not visible, visible)")
        for axis, value in (("x", x), ("y", y)):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if v > 0 and not (number and np.isfinite(value)):
                raise ConfigError(f"{where}: keypoint {name!r} has {axis}={value!r} with v={v}; a labeled keypoint "
                                  "needs finite numbers x and y (use v=0 for an unlabeled one)")
            if v == 0 and not (value is None or number):
                raise ConfigError(f"{where}: keypoint {name!r} has {axis}={value!r}; coordinates are numbers "
                                  "(or null when v=0)")
