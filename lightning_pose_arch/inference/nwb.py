"""Prediction tables → NWB files with ``ndx-pose`` (what DANDI takes for pose data).

One ``PoseEstimation`` per individual (``PoseEstimation`` for single-animal
tables, ``PoseEstimation_<individual>`` otherwise; unique bodyparts under the
individual ``single``), each with one ``PoseEstimationSeries`` per bodypart
(``[T, 2]`` x, y in video pixels, likelihood as confidence, sampled at the
video's rate), its ``Skeleton``, the scorer and the source video, in the
``behavior`` processing module. Needs the ``nwb`` extra
(``pip install 'lightning_pose_arch[nwb]'``).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

import lightning_pose_arch
from lightning_pose_arch.data.formats.dlc import UNIQUE_INDIVIDUAL
from lightning_pose_arch.extras import require_extra
from lightning_pose_arch.inference.label_video import table_keypoints, table_unique_keypoints

REFERENCE_FRAME = "(0, 0) is the top-left corner of the video frame; x to the right, y down, in pixels"


def require_nwb() -> None:
    """Raise ``ImportError`` naming the ``nwb`` extra when ``pynwb`` or ``ndx_pose`` is missing."""
    require_extra("NWB export", ("pynwb", "ndx_pose"), "nwb")


def table_individuals(table: pd.DataFrame) -> list[tuple[str, np.ndarray, list[str]]]:
    """``(individual, keypoints [F, K, 3], bodyparts)`` for each individual of a table (unique bodyparts last)."""
    keypoints, bodyparts = table_keypoints(table)
    names = list(dict.fromkeys(table.columns.get_level_values("individuals"))) \
        if "individuals" in table.columns.names else [None]
    groups = [(name, keypoints[:, i], bodyparts) for i, name in enumerate(n for n in names if n != UNIQUE_INDIVIDUAL)]
    unique, unique_bodyparts = table_unique_keypoints(table)
    if unique_bodyparts:
        groups.append((UNIQUE_INDIVIDUAL, unique[:, 0], unique_bodyparts))
    return groups


def write_nwb(
    table: pd.DataFrame,
    out_path: str | Path,
    *,
    video: str | Path,
    fps: float,
    frame_size: tuple[int, int],
    session_start: datetime.datetime,
    skeleton: Sequence[Sequence[str]] = (),
    subject_id: str | None = None,
    species: str | None = None,
    age: str | None = None,
    sex: str = "U",
) -> Path:
    """Write the predictions of one video as an NWB file; return its path.

    Args:
        table: A prediction table as ``lpa analyze`` writes it (one row per frame).
        video: The analyzed video (stored as the source video).
        fps: Frames per second: the series' sampling rate, starting at 0 s.
        frame_size: ``(width, height)`` in pixels.
        session_start: Start of the recording (timezone-aware; naive times are taken as UTC).
        skeleton: Edges as pairs of bodypart names (those naming other bodyparts are left out).
        subject_id, species, age, sex: The animal, as DANDI asks: e.g. ``"mouse3"``, ``"Mus musculus"``,
            ``"P90D"`` (ISO 8601 duration), ``"F"`` (M, F, U unknown, O other); no subject without ``subject_id``.
    """
    require_nwb()
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.file import Subject

    scorer = str(table.columns.get_level_values("scorer")[0])
    start = session_start if session_start.tzinfo else session_start.replace(tzinfo=datetime.timezone.utc)
    nwbfile = NWBFile(session_description=f"pose estimated by {scorer} from {Path(video).name}",
                      identifier=f"{Path(video).stem}-{scorer}", session_start_time=start,
                      subject=Subject(subject_id=subject_id, species=species, age=age, sex=sex) if subject_id else None)
    camera = nwbfile.create_device(name="camera", description=f"camera that recorded {Path(video).name}")
    behavior = nwbfile.create_processing_module(name="behavior", description="pose estimates")
    groups = table_individuals(table)
    skeletons, estimations = [], []
    for individual, keypoints, bodyparts in groups:
        suffix = "" if len(groups) == 1 else f"_{individual}"
        skeletons.append(_skeleton(f"skeleton{suffix}", bodyparts, skeleton))
        estimations.append(_pose_estimation(f"PoseEstimation{suffix}", keypoints, bodyparts, skeletons[-1],
                                            scorer=scorer, video=video, fps=fps, frame_size=frame_size, camera=camera))
    from ndx_pose import Skeletons

    behavior.add(Skeletons(skeletons=skeletons))
    for estimation in estimations:
        behavior.add(estimation)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = out_path.with_name(f".{out_path.name}.tmp")
    with NWBHDF5IO(str(tmp_path), mode="w") as io:
        io.write(nwbfile)
    tmp_path.replace(out_path)
    return out_path


def _skeleton(name: str, bodyparts: list[str], edges: Sequence[Sequence[str]]):
    from ndx_pose import Skeleton

    index = {part: i for i, part in enumerate(bodyparts)}
    pairs = [(index[a], index[b]) for a, b in edges if a in index and b in index]
    return Skeleton(name=name, nodes=list(bodyparts), edges=np.array(pairs, dtype=np.uint8).reshape(-1, 2))


def _pose_estimation(name: str, keypoints: np.ndarray, bodyparts: list[str], skeleton, *, scorer: str,
                     video: str | Path, fps: float, frame_size: tuple[int, int], camera):
    """One ``PoseEstimation`` of ``keypoints [F, K, 3]`` (x, y, likelihood)."""
    from ndx_pose import PoseEstimation, PoseEstimationSeries

    series = [
        PoseEstimationSeries(
            name=part, description=f"{part} estimated by {scorer}", data=keypoints[:, k, :2], unit="pixels",
            reference_frame=REFERENCE_FRAME, confidence=keypoints[:, k, 2],
            confidence_definition="likelihood (0 to 1) the model gives the keypoint", rate=float(fps),
            starting_time=0.0)
        for k, part in enumerate(bodyparts)
    ]
    return PoseEstimation(
        name=name, pose_estimation_series=series, description=f"{name} from {Path(video).name}",
        original_videos=[str(video)], dimensions=np.array([frame_size], dtype=np.uint16), devices=[camera],
        scorer=scorer, source_software="lightning_pose_arch", source_software_version=lightning_pose_arch.__version__,
        skeleton=skeleton)
