"""What every annotation format reads into: :class:`LabeledData`, plus atomic file output."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

VISIBLE = 2
OCCLUDED = 1


@dataclass(frozen=True, eq=False)
class LabeledData:
    """Labeled frames of any annotation format (DeepLabCut project, COCO keypoints json).

    F frames, N individuals, K keypoints per individual, U unique keypoints
    (labeled at most once per frame, e.g. DeepLabCut ``uniquebodyparts``).
    Coordinates are in image pixels, pixel centers at integer coordinates;
    visibility is 0 unlabeled (x = y = 0), 1 labeled but occluded, 2 visible.

    Attributes:
        root: Folder the image paths are relative to.
        config: The format's settings: DeepLabCut's ``config.yaml``; for COCO
            ``{"info": ..., "category_name": ..., "supercategory": ...}``.
        bodyparts: K keypoint names of each individual.
        individuals: N individual names (``["single animal"]`` for single-animal DeepLabCut projects).
        image_paths: F image paths relative to ``root``, with ``/`` separators.
        keypoints: ``[F, N, K, 3]`` float32 x, y, visibility.
        unique_bodyparts: U names (may be empty).
        unique_keypoints: ``[F, 1, U, 3]`` float32 x, y, visibility (U may be 0).
        skeleton: Edges as pairs of bodypart names.
        flip_pairs: Left/right bodypart name pairs when the file states them; None lets
            the data module infer them from the names.
        sigmas: ``[K]`` OKS sigmas when the file gives them (or they are COCO's person sigmas).
        bboxes: ``[F, N, 4]`` float32 x, y, w, h per individual when the file has boxes (zeros for unused slots).
    """

    root: Path
    config: dict[str, Any]
    bodyparts: list[str]
    individuals: list[str]
    image_paths: list[str]
    keypoints: np.ndarray
    unique_bodyparts: list[str]
    unique_keypoints: np.ndarray
    skeleton: list[list[str]]
    flip_pairs: list[tuple[str, str]] | None
    sigmas: np.ndarray | None
    bboxes: np.ndarray | None

    def __post_init__(self) -> None:
        frames, individuals, kpts = len(self.image_paths), len(self.individuals), len(self.bodyparts)
        expected = {
            "keypoints": (self.keypoints, (frames, individuals, kpts, 3)),
            "unique_keypoints": (self.unique_keypoints, (frames, 1, len(self.unique_bodyparts), 3)),
            "sigmas": (self.sigmas, (kpts,)),
            "bboxes": (self.bboxes, (frames, individuals, 4)),
        }
        for name, (array, shape) in expected.items():
            if array is not None and tuple(array.shape) != shape:
                raise ValueError(f"LabeledData {name} has shape {tuple(array.shape)}, expected {shape} "
                                 f"({frames} frames, {individuals} individuals, {kpts} bodyparts)")
        names = set(self.bodyparts) | set(self.unique_bodyparts)
        unknown = sorted({name for edge in self.skeleton for name in edge} - names)
        unknown += sorted({name for pair in self.flip_pairs or [] for name in pair} - set(self.bodyparts))
        if unknown:
            raise ValueError(f"LabeledData skeleton or flip_pairs name unknown bodyparts {unknown}; "
                             f"bodyparts are {self.bodyparts + self.unique_bodyparts}")

    @property
    def num_frames(self) -> int:
        return len(self.image_paths)


def warn_unlabeled_frames(source: Path, data: LabeledData) -> None:
    """Frames without any labeled keypoint are kept (as frames without labels), but never silently."""
    labeled = (data.keypoints[..., 2] > 0).any(axis=(1, 2)) | (data.unique_keypoints[..., 2] > 0).any(axis=(1, 2))
    empty = [path for path, has_label in zip(data.image_paths, labeled) if not has_label]
    if empty:
        warnings.warn(
            f"{len(empty)} of {data.num_frames} labeled frames in {source} have no labeled keypoint "
            f"(NaN coordinates or visibility 0), e.g. {empty[:3]}: they are kept as frames without labels "
            "(they add no loss and no metric)",
            UserWarning, stacklevel=3,
        )


def shortest_decimals(values: np.ndarray) -> np.ndarray:
    """float32 values as float64 holding their shortest decimal form (NaN kept).

    Files then show ``21.521`` rather than ``21.520999908447266`` and still
    read back to the same float32.
    """
    return np.asarray(values, np.float32).astype(str).astype(np.float64)


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds.

    Readers never see a half-written file, even when writing is interrupted.
    """
    path = Path(path)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        yield Path(tmp_name)
        os.chmod(tmp_name, new_file_mode(path))  # mkstemp makes owner-only files
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)


def new_file_mode(path: Path) -> int:
    """The replaced file's permissions, or those a new file gets under the current umask."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask
