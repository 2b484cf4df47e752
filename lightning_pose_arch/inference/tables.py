"""Keypoint arrays ↔ DeepLabCut-layout tables (``scorer / [individuals /] bodyparts / coords``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lightning_pose_arch.data.formats.dlc import SINGLE_INDIVIDUAL, UNIQUE_INDIVIDUAL, write_table


def predictions_to_table(
    keypoints: np.ndarray,
    index: list[str],
    bodyparts: list[str],
    individuals: list[str],
    scorer: str,
    unique_keypoints: np.ndarray | None = None,
    unique_bodyparts: Sequence[str] = (),
) -> pd.DataFrame:
    """``[F, N, K, 3]`` (x, y, likelihood) → DataFrame as DeepLabCut's ``analyze_videos`` writes it.

    Single-animal projects (``individuals == ["single animal"]``) get three
    column levels ``scorer / bodyparts / coords``; multi-animal projects four,
    with ``individuals`` after ``scorer``, and their unique bodyparts
    (``unique_keypoints [F, 1, U, 3]``) under the individual ``single``, as DeepLabCut does.
    """
    num_frames, num_individuals, num_kpts, _ = keypoints.shape
    if num_kpts != len(bodyparts) or num_individuals != len(individuals) or num_frames != len(index):
        raise ValueError(f"keypoints {keypoints.shape} do not match {len(index)} frames, "
                         f"{len(individuals)} individuals and {len(bodyparts)} bodyparts")
    coords = ["x", "y", "likelihood"]
    if individuals == [SINGLE_INDIVIDUAL]:
        columns = pd.MultiIndex.from_product([[scorer], bodyparts, coords], names=["scorer", "bodyparts", "coords"])
    else:
        columns = pd.MultiIndex.from_product(
            [[scorer], individuals, bodyparts, coords], names=["scorer", "individuals", "bodyparts", "coords"]
        )
    table = pd.DataFrame(keypoints.reshape(num_frames, -1).astype(np.float64), index=index, columns=columns)
    if unique_keypoints is None or not len(unique_bodyparts):
        return table
    if individuals == [SINGLE_INDIVIDUAL]:
        raise ValueError("unique bodyparts belong to multi-animal projects (individual 'single'); "
                         "this table is single-animal")
    unique_columns = pd.MultiIndex.from_product([[scorer], [UNIQUE_INDIVIDUAL], list(unique_bodyparts), coords],
                                                names=columns.names)
    unique = pd.DataFrame(unique_keypoints.reshape(num_frames, -1).astype(np.float64), index=index,
                          columns=unique_columns)
    return pd.concat([table, unique], axis=1)


def fit_individuals(keypoints: np.ndarray, num_individuals: int) -> np.ndarray:
    """``[F, M, K, 3]`` predictions (best first) → ``[F, N, K, 3]`` for the data's N individuals.

    Bottom-up predictors return up to their ``max_individuals``; the table has one column
    group per individual of the project, so the N best are kept and missing ones are NaN
    with likelihood 0 (as DeepLabCut writes undetected animals).
    """
    kept = keypoints[:, :num_individuals].astype(np.float64)
    missing = np.full((len(keypoints), num_individuals - kept.shape[1], *keypoints.shape[2:]), np.nan)
    missing[..., 2] = 0.0
    fitted = np.concatenate([kept, missing], axis=1)
    empty = (fitted[..., 2] == 0).all(axis=-1) & (fitted[..., :2] == 0).all(axis=(-1, -2))  # unused slots: zeros
    fitted[empty, :, :2] = np.nan
    return fitted


def crops_to_frames(
    keypoints: np.ndarray, image_paths: list[str], individuals: np.ndarray, num_individuals: int
) -> tuple[list[str], np.ndarray]:
    """Per-crop predictions ``[C, 1, K, 3]`` → per-frame ``[F, N, K, 3]`` (frames in first-seen order).

    Crop ``c`` of frame ``image_paths[c]`` fills individual ``individuals[c]``; individuals
    without a crop in a frame are NaN with likelihood 0 (not found, as DeepLabCut writes them).
    """
    frames = list(dict.fromkeys(image_paths))
    row = {path: i for i, path in enumerate(frames)}
    out = np.full((len(frames), num_individuals, keypoints.shape[2], 3), np.nan)
    out[..., 2] = 0.0
    rows = np.array([row[path] for path in image_paths], dtype=np.int64)
    out[rows, np.asarray(individuals, dtype=np.int64)] = keypoints[:, 0]
    return frames, out


def write_predictions(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Write ``<stem>.h5`` and ``<stem>.csv`` atomically; return both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(stem.name + ".h5"), stem.with_name(stem.name + ".csv")]
    for path in paths:
        write_table(table, path)
    return paths


def read_predictions(path: str | Path) -> pd.DataFrame:
    """A prediction table we write (``.h5`` or ``.csv``): 3 header rows, or 4 with ``individuals``."""
    path = Path(path)
    if path.suffix == ".h5":
        return pd.read_hdf(path)
    with path.open() as handle:
        handle.readline()
        header_rows = 4 if handle.readline().startswith("individuals") else 3
    return pd.read_csv(path, header=list(range(header_rows)), index_col=0)
