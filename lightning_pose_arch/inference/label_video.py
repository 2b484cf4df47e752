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


def label_video(
    video: str | Path,
    predictions: str | Path,
    out_path: str | Path | None = None,
    skeleton: list[list[str]] | None = None,
    pcutoff: float = 0.4,
    radius: int = 5,
) -> Path:
    """Draw the keypoints of ``predictions`` (an ``.h5``/``.csv`` from ``analyze``) on ``video``.

    Keypoints with likelihood below ``pcutoff`` are not drawn; skeleton edges
    are drawn when both ends are. Writes ``<video stem>_labeled.mp4`` next to
    the predictions (or ``out_path``) atomically and returns its path.
    """
    predictions = Path(predictions)
    table = pd.read_hdf(predictions) if predictions.suffix == ".h5" else pd.read_csv(predictions, header=[0, 1, 2], index_col=0)
    keypoints, bodyparts = table_keypoints(table)
    source = FrameSource(Path(video), Path(video).stem)
    out_path = Path(out_path) if out_path is not None else predictions.with_name(f"{predictions.stem}_labeled.mp4")
    colors = (np.array(matplotlib.colormaps["jet"](np.linspace(0, 1, len(bodyparts))))[:, :3] * 255).astype(int)
    edges = [(bodyparts.index(a), bodyparts.index(b)) for a, b in (skeleton or []) if a in bodyparts and b in bodyparts]
    tmp_path = out_path.with_name(f".{out_path.stem}.tmp.mp4")
    writer = None
    try:
        for frame_index, frame in enumerate(source.frames()):
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(str(tmp_path), cv2.VideoWriter_fourcc(*"mp4v"), source.fps, (width, height))
            if frame_index < len(keypoints):
                _draw(frame, keypoints[frame_index], colors, edges, pcutoff, radius)
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    finally:
        if writer is not None:
            writer.release()
    os.replace(tmp_path, out_path)
    return out_path


def _draw(frame: np.ndarray, keypoints: np.ndarray, colors: np.ndarray, edges: list[tuple[int, int]],
          pcutoff: float, radius: int) -> None:
    for individual in keypoints:
        shown = individual[:, 2] >= pcutoff
        for a, b in edges:
            if shown[a] and shown[b]:
                cv2.line(frame, _point(individual[a]), _point(individual[b]), (255, 255, 255), 1, cv2.LINE_AA)
        for k in np.flatnonzero(shown):
            cv2.circle(frame, _point(individual[k]), radius, tuple(int(c) for c in colors[k]), -1, cv2.LINE_AA)


def _point(keypoint: np.ndarray) -> tuple[int, int]:
    return int(round(keypoint[0])), int(round(keypoint[1]))
