"""Labeled videos: predicted keypoints and skeleton drawn on every frame."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pandas as pd

from lightning_pose_arch.data.formats.dlc import UNIQUE_INDIVIDUAL
from lightning_pose_arch.inference.sources import FrameSource
from lightning_pose_arch.inference.tables import read_predictions


def table_keypoints(table: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """DLC-layout prediction table → (``[F, N, K, 3]`` keypoints, bodypart names) of the individuals.

    Unique bodyparts (individual ``single``) are not part of any individual and are left out.
    """
    if "individuals" in table.columns.names:
        table = table.drop(columns=UNIQUE_INDIVIDUAL, level="individuals", errors="ignore")
    columns = table.columns.droplevel("scorer")
    bodyparts = list(dict.fromkeys(columns.get_level_values("bodyparts")))
    individuals = list(dict.fromkeys(columns.get_level_values("individuals"))) if "individuals" in columns.names else [None]
    values = table.to_numpy(np.float64).reshape(len(table), len(individuals), len(bodyparts), 3)
    return values, bodyparts


def table_unique_keypoints(table: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """The unique bodyparts (individual ``single``) of a multi-animal table: ``[F, 1, U, 3]`` and their names."""
    if "individuals" not in table.columns.names or UNIQUE_INDIVIDUAL not in table.columns.get_level_values("individuals"):
        return np.zeros((len(table), 1, 0, 3)), []
    return table_keypoints(table.xs(UNIQUE_INDIVIDUAL, level="individuals", axis=1))


def label_video(
    video: str | Path,
    predictions: str | Path,
    out_path: str | Path | None = None,
    skeleton: list[list[str]] | None = None,
    pcutoff: float = 0.4,
    radius: int = 5,
) -> Path:
    """Draw the keypoints of ``predictions`` (an ``.h5``/``.csv`` from ``analyze``) on ``video``.

    Any table we write is read: single-animal, multi-animal (``individuals`` level) and
    unique bodyparts (individual ``single``, drawn as squares). Keypoints with likelihood
    below ``pcutoff`` are not drawn; skeleton edges are drawn when both ends are. Writes
    ``<video stem>_labeled.mp4`` next to the predictions (or ``out_path``) atomically and
    returns its path. A table with more or fewer rows than the video has frames is an error.
    """
    predictions = Path(predictions)
    table = read_predictions(predictions)
    keypoints, bodyparts = table_keypoints(table)
    unique_keypoints, unique_bodyparts = table_unique_keypoints(table)
    source = FrameSource(Path(video), Path(video).stem)
    out_path = Path(out_path) if out_path is not None else predictions.with_name(f"{predictions.stem}_labeled.mp4")
    colors = _colors(len(bodyparts) + len(unique_bodyparts))
    edges = [(bodyparts.index(a), bodyparts.index(b)) for a, b in (skeleton or []) if a in bodyparts and b in bodyparts]
    tmp_path = out_path.with_name(f".{out_path.stem}.tmp.mp4")
    writer = None
    try:
        for frame_index, frame in enumerate(source.frames()):
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(str(tmp_path), cv2.VideoWriter_fourcc(*"mp4v"), source.fps, (width, height))
            if frame_index >= len(keypoints):
                raise ValueError(_mismatch(predictions, len(keypoints), video, f"at least {frame_index + 1}"))
            _draw(frame, keypoints[frame_index], colors, edges, pcutoff, radius)
            _draw(frame, unique_keypoints[frame_index], colors[len(bodyparts):], [], pcutoff, radius, square=True)
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        frames = 0 if writer is None else frame_index + 1
        if frames != len(keypoints):
            raise ValueError(_mismatch(predictions, len(keypoints), video, str(frames)))
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    finally:
        if writer is not None:
            writer.release()
    os.replace(tmp_path, out_path)
    return out_path


def _mismatch(predictions: Path, rows: int, video: str | Path, frames: str) -> str:
    return (f"{predictions} has {rows} rows but {video} has {frames} frames: label a video with the table "
            "lpa analyze wrote for it (tables of image folders have one row per image)")


def _colors(count: int) -> np.ndarray:
    return (np.array(matplotlib.colormaps["jet"](np.linspace(0, 1, count)))[:, :3] * 255).astype(int)


def _draw(frame: np.ndarray, keypoints: np.ndarray, colors: np.ndarray, edges: list[tuple[int, int]],
          pcutoff: float, radius: int, square: bool = False) -> None:
    """Draw ``keypoints [N, K, 3]`` (NaN or low likelihood: not drawn) on ``frame`` in place."""
    for individual in keypoints:
        shown = (np.nan_to_num(individual[:, 2], nan=-1.0) >= pcutoff) & np.isfinite(individual[:, :2]).all(-1)
        for a, b in edges:
            if shown[a] and shown[b]:
                cv2.line(frame, _point(individual[a]), _point(individual[b]), (255, 255, 255), 1, cv2.LINE_AA)
        for k in np.flatnonzero(shown):
            color = tuple(int(c) for c in colors[k])
            if square:
                x, y = _point(individual[k])
                cv2.rectangle(frame, (x - radius, y - radius), (x + radius, y + radius), color, -1, cv2.LINE_AA)
            else:
                cv2.circle(frame, _point(individual[k]), radius, color, -1, cv2.LINE_AA)


def _point(keypoint: np.ndarray) -> tuple[int, int]:
    return int(round(keypoint[0])), int(round(keypoint[1]))
