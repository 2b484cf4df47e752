"""DeepLabCut projects: ``config.yaml`` + ``labeled-data/*/CollectedData_<scorer>.{h5,csv}``.

Label tables have MultiIndex columns ``scorer / [individuals /] bodyparts /
coords`` and a row index that is either one path column
(``labeled-data/<video>/<image>``) or three columns (``labeled-data``,
``<video>``, ``<image>``), in ``.h5`` (key ``df_with_missing``) or ``.csv``.
Multi-animal projects (``multianimalproject: true``) have the
``individuals`` level: each individual listed in ``config.yaml`` carries the
``multianimalbodyparts``, and the individual ``single`` carries the
``uniquebodyparts``. Every form DeepLabCut writes is read; :func:`write_table`
writes the one-path-column form, which every DeepLabCut version reads.
DeepLabCut has no visibility flag: a labeled keypoint reads as visible (2),
a NaN one as unlabeled (0).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any, Iterable, Literal

import numpy as np
import pandas as pd
import yaml

from lightning_pose_arch.data.formats.base import (
    VISIBLE,
    LabeledData,
    atomic_output,
    shortest_decimals,
    warn_unlabeled_frames,
)
from lightning_pose_arch.data.formats.dlc_sources import label_sources, warn_if_twins_differ
from lightning_pose_arch.data.validation import check_dlc_config, check_label_table
from lightning_pose_arch.registry import ConfigError
from lightning_pose_arch.yaml_files import load_yaml

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
SINGLE_INDIVIDUAL = "single animal"
UNIQUE_INDIVIDUAL = "single"  # the individual DeepLabCut files unique bodyparts under
MULTI_BODYPARTS = "MULTI!"  # what DeepLabCut writes as ``bodyparts`` in multi-animal configs
COORDS = ("x", "y")


def read_project(project_dir: str | Path) -> LabeledData:
    """Read a DeepLabCut project's config and one ``CollectedData_*`` label file per folder (see
    :mod:`~lightning_pose_arch.data.formats.dlc_sources` for which one).

    Returns :class:`LabeledData` with ``bboxes``, ``sigmas`` and ``flip_pairs``
    None (DeepLabCut files have none).
    """
    root = Path(project_dir).expanduser()
    config_path = root / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} not found: project_dir must be a DeepLabCut project folder")
    config = load_yaml(config_path)
    check_dlc_config(config, config_path)
    bodyparts, individuals, unique_bodyparts = _project_names(config, config_path)
    multi = bool(config.get("multianimalproject"))
    paths, keypoints, unique_keypoints = [], [], []
    for source in label_sources(root, None if config.get("scorer") is None else str(config["scorer"])):
        table = read_labels(source.path)
        frame_kpts, frame_unique = labels_to_keypoints(
            table, bodyparts, individuals if multi else None, unique_bodyparts, source=source.path)
        if source.twin is not None:
            warn_if_twins_differ(table, read_labels(source.twin), source)
        _check_not_listed_before(table.index, paths, source.path)
        paths += list(table.index)
        keypoints.append(frame_kpts)
        unique_keypoints.append(frame_unique)
    data = LabeledData(
        root=root, config=config, bodyparts=bodyparts, individuals=individuals, image_paths=paths,
        keypoints=np.concatenate(keypoints), unique_bodyparts=unique_bodyparts,
        unique_keypoints=np.concatenate(unique_keypoints),
        skeleton=[list(edge) for edge in (config.get("skeleton") or [])], flip_pairs=None, sigmas=None, bboxes=None,
    )
    warn_unlabeled_frames(root, data)
    return data


def _project_names(config: dict[str, Any], config_path: Path) -> tuple[list[str], list[str], list[str]]:
    """(bodyparts, individuals, unique bodyparts) that ``config.yaml`` lists."""
    multi = bool(config.get("multianimalproject"))
    bodyparts = list(config.get("multianimalbodyparts" if multi else "bodyparts") or [])
    if not bodyparts:
        raise ConfigError(f"{config_path}: no {'multianimalbodyparts' if multi else 'bodyparts'} listed")
    if not multi:
        if config.get("uniquebodyparts"):
            raise ConfigError(f"{config_path}: uniquebodyparts need a multi-animal project (multianimalproject: true)")
        return bodyparts, [SINGLE_INDIVIDUAL], []
    individuals = list(config.get("individuals") or [])
    if not individuals:
        raise ConfigError(f"{config_path}: a multi-animal project must list its individuals")
    if UNIQUE_INDIVIDUAL in individuals:
        raise ConfigError(f"{config_path}: individuals must not include {UNIQUE_INDIVIDUAL!r}, the name "
                          "DeepLabCut files uniquebodyparts under")
    return bodyparts, individuals, list(config.get("uniquebodyparts") or [])


def _check_not_listed_before(frames: Iterable[str], earlier: list[str], source: Path) -> None:
    repeated = sorted(set(frames) & set(earlier))
    if repeated:
        raise ConfigError(f"{source} labels frames that an earlier label file of the project already labels, e.g. "
                          f"{repeated[:3]}: each frame must be labeled in one file only")


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
    num_index = next((i for i, cell in enumerate(rows[0][1:], start=1) if cell), None)
    if num_index is None:
        raise ConfigError(f"{path}: no label columns (the scorer row names no column); a DeepLabCut label file "
                          "has an x and a y column per bodypart")
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
    table: pd.DataFrame,
    bodyparts: list[str],
    individuals: list[str] | None,
    unique_bodyparts: list[str],
    source: Path,
) -> tuple[np.ndarray, np.ndarray]:
    """Label table → keypoints ``[F, N, K, 3]`` and unique keypoints ``[F, 1, U, 3]`` (x, y, visibility).

    ``individuals`` is None for single-animal tables (no ``individuals``
    level, N = 1). NaN coordinates become visibility 0 with x = y = 0.
    """
    table = table.droplevel(0, axis=1)  # scorer
    has_individuals = "individuals" in table.columns.names
    if has_individuals != (individuals is not None):
        raise ConfigError(f"{source}: the label table {'has' if has_individuals else 'lacks'} an individuals "
                          f"column level, but config.yaml says multianimalproject: {individuals is not None}")
    if individuals is None:
        _check_names(source, "bodyparts", table.columns.get_level_values("bodyparts"), bodyparts)
        check_label_table(table, [(bp,) for bp in bodyparts], source)
        return _gather(table, [(bp,) for bp in bodyparts], (1, len(bodyparts))), _gather(table, [], (1, 0))
    _check_names(source, "individuals", table.columns.get_level_values("individuals"),
                 individuals + ([UNIQUE_INDIVIDUAL] if unique_bodyparts else []))
    for individual in individuals:
        found = table.xs(individual, axis=1, level="individuals").columns.get_level_values("bodyparts")
        _check_names(source, f"bodyparts of {individual}", found, bodyparts)
    if unique_bodyparts:
        found = table.xs(UNIQUE_INDIVIDUAL, axis=1, level="individuals").columns.get_level_values("bodyparts")
        _check_names(source, f"bodyparts of {UNIQUE_INDIVIDUAL} (uniquebodyparts)", found, unique_bodyparts)
    keys = [(ind, bp) for ind in individuals for bp in bodyparts]
    check_label_table(table, keys + [(UNIQUE_INDIVIDUAL, bp) for bp in unique_bodyparts], source)
    keypoints = _gather(table, keys, (len(individuals), len(bodyparts)))
    unique = _gather(table, [(UNIQUE_INDIVIDUAL, bp) for bp in unique_bodyparts], (1, len(unique_bodyparts)))
    return keypoints, unique


def _check_names(source: Path, what: str, found: Iterable[str], expected: list[str]) -> None:
    names = list(dict.fromkeys(found))
    if set(names) != set(expected):
        raise ConfigError(
            f"{source}: {what} {names} differ from config.yaml's {expected} "
            f"(missing: {sorted(set(expected) - set(names))}, extra: {sorted(set(names) - set(expected))})"
        )


def _gather(table: pd.DataFrame, keys: list[tuple[str, ...]], shape: tuple[int, int]) -> np.ndarray:
    """Columns ``key + (x|y)`` for each key → ``[F, *shape, 3]`` float32 x, y, visibility."""
    if not keys:
        return np.zeros((len(table), *shape, 3), np.float32)
    cells = table[[key + (c,) for key in keys for c in COORDS]].apply(pd.to_numeric, errors="coerce")  # blank: NaN
    xy = cells.to_numpy(np.float64).reshape(len(table), *shape, 2)
    labeled = np.isfinite(xy).all(axis=-1, keepdims=True)
    return np.concatenate([np.where(labeled, xy, 0.0), VISIBLE * labeled], axis=-1).astype(np.float32)


def labels_table(data: LabeledData, scorer: str) -> pd.DataFrame:
    """:class:`LabeledData` → one label table as DeepLabCut writes it (all frames).

    Multi-animal data get four column levels, with the unique bodyparts under
    the individual ``single``; single-animal data (``individuals == ["single
    animal"]``) three. Unlabeled keypoints are NaN; visibility 1 and 2 both
    become plain labels (DeepLabCut has no visibility flag).
    """
    multi = data.individuals != [SINGLE_INDIVIDUAL]
    if not multi and data.unique_bodyparts:
        raise ValueError("single-animal DeepLabCut projects cannot hold unique bodyparts: "
                         "name the individuals to write a multi-animal project")
    if multi:
        keys = [(ind, bp) for ind in data.individuals for bp in data.bodyparts]
        keys += [(UNIQUE_INDIVIDUAL, bp) for bp in data.unique_bodyparts]
        names = ["scorer", "individuals", "bodyparts", "coords"]
    else:
        keys = [(bp,) for bp in data.bodyparts]
        names = ["scorer", "bodyparts", "coords"]
    columns = pd.MultiIndex.from_tuples([(scorer, *key, c) for key in keys for c in COORDS], names=names)
    keypoints = np.concatenate([data.keypoints.reshape(data.num_frames, -1, 3),
                                data.unique_keypoints.reshape(data.num_frames, -1, 3)], axis=1)
    xy = np.where(keypoints[..., 2:] > 0, shortest_decimals(keypoints[..., :2]), np.nan)
    return pd.DataFrame(xy.reshape(data.num_frames, -1), index=list(data.image_paths), columns=columns)


def write_project(
    data: LabeledData,
    project_dir: str | Path,
    scorer: str | None = None,
    label_formats: tuple[Literal["h5", "csv"], ...] = ("h5", "csv"),
) -> Path:
    """Write ``data`` as a DeepLabCut project and return ``project_dir``.

    Writes ``config.yaml`` (``data.config`` with the names, individuals and
    skeleton of ``data``) and ``labeled-data/<video>/CollectedData_<scorer>.<format>``
    for each video folder, atomically; images are copied from ``data.root``
    unless ``project_dir`` is that folder. :func:`read_project` reads back the
    same :class:`LabeledData` (visibility 1 reads back as 2).

    Args:
        data: Labels; image paths must be ``labeled-data/<video>/<image>``.
        project_dir: Project folder to write (created if needed).
        scorer: Label files' scorer (default: ``data.config["scorer"]``).
        label_formats: Label file types written per video folder.
    """
    project_dir = Path(project_dir)
    scorer = scorer or data.config.get("scorer")
    if not scorer:
        raise ValueError("write_project needs a scorer: data.config has no 'scorer', pass scorer=")
    videos = [_video_folder(path) for path in data.image_paths]
    table = labels_table(data, scorer)
    if project_dir.resolve() != Path(data.root).resolve():
        _copy_images(data, project_dir)
    for video in dict.fromkeys(videos):
        folder = project_dir / "labeled-data" / video
        folder.mkdir(parents=True, exist_ok=True)
        for suffix in label_formats:
            write_table(table[[v == video for v in videos]], folder / f"CollectedData_{scorer}.{suffix}")
    with atomic_output(project_dir / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(_project_config(data, scorer), sort_keys=False))
    return project_dir


def _video_folder(image_path: str) -> str:
    parts = image_path.split("/")
    if len(parts) != 3 or parts[0] != "labeled-data":
        raise ValueError(f"DeepLabCut image paths are labeled-data/<video>/<image>, got {image_path!r}")
    return parts[1]


def _copy_images(data: LabeledData, project_dir: Path) -> None:
    missing = [path for path in data.image_paths if not (Path(data.root) / path).is_file()]
    if missing:
        raise FileNotFoundError(f"write_project copies the images from {data.root}, but {len(missing)} of "
                                f"{data.num_frames} are missing there, e.g. {missing[:3]}")
    for path in data.image_paths:
        target = project_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(data.root) / path, target)


def _project_config(data: LabeledData, scorer: str) -> dict[str, Any]:
    """``data.config`` with the keys that describe ``data``'s names (existing key order kept).

    A single-animal config's ``multianimalproject`` stays as it is when falsy
    (DeepLabCut writes it empty), so configs read back unchanged.
    """
    config = dict(data.config)
    config["scorer"] = scorer
    if data.individuals == [SINGLE_INDIVIDUAL]:
        if config.get("multianimalproject"):
            config["multianimalproject"] = False
        config["bodyparts"] = list(data.bodyparts)
    else:
        config.update(multianimalproject=True, individuals=list(data.individuals),
                      multianimalbodyparts=list(data.bodyparts), uniquebodyparts=list(data.unique_bodyparts),
                      bodyparts=MULTI_BODYPARTS)
    config["skeleton"] = [list(edge) for edge in data.skeleton]
    return config


DLC_PROJECT_KEYS = ("Task", "scorer", "date", "iteration", "TrainingFraction", "multianimalproject")


def project_identity(config: dict[str, Any]) -> dict[str, Any] | None:
    """What names a DeepLabCut project's outputs (``Task``, ``date``, ...); None for a config of another format."""
    return {key: config.get(key) for key in DLC_PROJECT_KEYS} if "Task" in config else None


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write a label or prediction table as ``.h5`` (key ``df_with_missing``) or ``.csv``, atomically."""
    path = Path(path)
    with atomic_output(path) as tmp:
        if path.suffix == ".h5":
            table.to_hdf(tmp, key="df_with_missing", mode="w")
        else:
            table.to_csv(tmp)
