"""DeepLabCut projects: ``config.yaml`` + ``labeled-data/*/CollectedData_<scorer>.{h5,csv}``.

Label tables have MultiIndex columns ``scorer / [individuals /] bodyparts /
coords`` and a row index that is either one path column
(``labeled-data/<video>/<image>``) or three columns (``labeled-data``,
``<video>``, ``<image>``), in ``.h5`` (key ``df_with_missing``) or ``.csv``.
Every form DeepLabCut writes is read; :func:`write_table` writes the
one-path-column form, which every DeepLabCut version reads.
"""

from __future__ import annotations

import csv
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from lightning_pose_arch.registry import ConfigError

VISIBLE = 2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
SINGLE_INDIVIDUAL = "single animal"


@dataclass(frozen=True)
class DLCProject:
    """A loaded DeepLabCut project.

    Attributes:
        root: Project folder.
        config: Parsed ``config.yaml``.
        bodyparts: K keypoint names, in config order.
        individuals: N individual names (``["single animal"]`` for single-animal projects).
        image_paths: F image paths relative to ``root``.
        keypoints: ``[F, N, K, 3]`` float32: x, y, visibility (2 labeled, 0 missing, coordinates 0).
    """

    root: Path
    config: dict[str, Any]
    bodyparts: list[str]
    individuals: list[str]
    image_paths: list[str]
    keypoints: np.ndarray

    @property
    def skeleton(self) -> list[list[str]]:
        return [list(edge) for edge in (self.config.get("skeleton") or [])]


def load_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML mapping with the safe loader; errors name the file."""
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a YAML mapping, got {type(content).__name__}")
    return content


def read_project(project_dir: str | Path) -> DLCProject:
    """Read a DeepLabCut project's config and every ``CollectedData_*`` label file."""
    root = Path(project_dir).expanduser()
    config_path = root / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} not found: project_dir must be a DeepLabCut project folder")
    config = load_yaml(config_path)
    if config.get("uniquebodyparts"):
        raise NotImplementedError(f"{config_path}: uniquebodyparts are not supported yet")
    multi = bool(config.get("multianimalproject"))
    bodyparts = list(config.get("multianimalbodyparts" if multi else "bodyparts") or [])
    if not bodyparts:
        raise ConfigError(f"{config_path}: no bodyparts listed")
    individuals = list(config.get("individuals") or []) if multi else [SINGLE_INDIVIDUAL]
    label_files = _label_files(root)
    tables = [read_labels(path) for path in label_files]
    paths, keypoints = [], []
    for path, table in zip(label_files, tables):
        frame_kpts = labels_to_keypoints(table, bodyparts, individuals if multi else None, source=path)
        paths += list(table.index)
        keypoints.append(frame_kpts)
    keypoints = np.concatenate(keypoints)
    _warn_unlabeled_frames(root, paths, keypoints)
    return DLCProject(root, config, bodyparts, individuals, paths, keypoints)


def _warn_unlabeled_frames(root: Path, paths: list[str], keypoints: np.ndarray) -> None:
    """Frames whose every keypoint is NaN are kept (as frames without labels), but never silently."""
    empty = [path for path, kpts in zip(paths, keypoints) if not (kpts[..., 2] > 0).any()]
    if empty:
        warnings.warn(
            f"{len(empty)} of {len(paths)} labeled frames in {root} have no labeled keypoint (all coordinates NaN), "
            f"e.g. {empty[:3]}: they are kept as frames without labels (they add no loss and no metric)",
            UserWarning, stacklevel=3,
        )


def _label_files(root: Path) -> list[Path]:
    """One label file per ``labeled-data`` folder, ``.h5`` preferred over ``.csv``."""
    files = []
    for folder in sorted((root / "labeled-data").glob("*")):
        h5 = sorted(folder.glob("CollectedData_*.h5"))
        files += h5 or sorted(folder.glob("CollectedData_*.csv"))
    if not files:
        raise FileNotFoundError(f"no labeled-data/*/CollectedData_*.h5 or .csv files under {root}")
    return files


def read_labels(path: str | Path) -> pd.DataFrame:
    """Read one label file (``.h5`` or ``.csv``) into a table indexed by ``labeled-data/<video>/<image>``."""
    path = Path(path)
    if path.suffix == ".h5":
        table = pd.read_hdf(path)
    elif path.suffix == ".csv":
        table = _read_labels_csv(path)
    else:
        raise ValueError(f"{path}: label files must be .h5 or .csv")
    if isinstance(table.index, pd.MultiIndex):
        table.index = ["/".join(map(str, parts)) for parts in table.index]
    table.index = [str(p).replace("\\", "/") for p in table.index]
    return table


def _read_labels_csv(path: Path) -> pd.DataFrame:
    with path.open(newline="") as handle:
        rows = [row for _, row in zip(range(4), csv.reader(handle))]
    if not rows or rows[0][0] != "scorer":
        raise ValueError(f"{path}: not a DeepLabCut label file (first cell should be 'scorer')")
    num_index = next(i for i, cell in enumerate(rows[0][1:], start=1) if cell)
    num_header = 4 if len(rows) > 1 and rows[1][0] == "individuals" else 3
    table = pd.read_csv(path, header=list(range(num_header)), index_col=list(range(num_index)))
    return _restore_unlabeled_first_row(table)


def _restore_unlabeled_first_row(table: pd.DataFrame) -> pd.DataFrame:
    """Put back a first frame whose cells are all empty: pandas reads such a row as the index names."""
    names = [str(n) for n in table.index.names if n is not None]
    if len(names) != table.index.nlevels or Path(names[-1]).suffix.lower() not in IMAGE_SUFFIXES:
        return table
    label = tuple(names) if table.index.nlevels > 1 else names[0]
    index = pd.MultiIndex.from_tuples([label]) if table.index.nlevels > 1 else pd.Index([label])
    first = pd.DataFrame(np.nan, index=index, columns=table.columns)
    table.index.names = [None] * table.index.nlevels
    return pd.concat([first, table])


def labels_to_keypoints(
    table: pd.DataFrame, bodyparts: list[str], individuals: list[str] | None, source: Path
) -> np.ndarray:
    """Label table → ``[F, N, K, 3]`` (x, y, visibility); NaN coordinates become visibility 0."""
    columns = table.columns.droplevel(0)  # scorer
    names = list(dict.fromkeys(columns.get_level_values("bodyparts")))
    if set(names) != set(bodyparts):
        raise ConfigError(
            f"{source}: bodyparts {names} differ from config.yaml's {bodyparts} "
            f"(missing: {sorted(set(bodyparts) - set(names))}, extra: {sorted(set(names) - set(bodyparts))})"
        )
    table = table.droplevel(0, axis=1)
    if individuals is None:
        coords = [table[(bp, c)].to_numpy(np.float64) for bp in bodyparts for c in ("x", "y")]
        xy = np.stack(coords, axis=1).reshape(len(table), 1, len(bodyparts), 2)
    else:
        coords = [table[(ind, bp, c)].to_numpy(np.float64) for ind in individuals for bp in bodyparts for c in ("x", "y")]
        xy = np.stack(coords, axis=1).reshape(len(table), len(individuals), len(bodyparts), 2)
    labeled = np.isfinite(xy).all(axis=-1)
    keypoints = np.concatenate([np.where(labeled[..., None], xy, 0.0), VISIBLE * labeled[..., None]], axis=-1)
    return keypoints.astype(np.float32)


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write a label or prediction table as ``.h5`` (key ``df_with_missing``) or ``.csv``, atomically."""
    path = Path(path)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        if path.suffix == ".h5":
            table.to_hdf(tmp_name, key="df_with_missing", mode="w")
        else:
            table.to_csv(tmp_name)
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
