"""Analyze outputs that DeepLabCut's own tools find and read.

DeepLabCut 3.0.2 (``pose_estimation_pytorch/apis/videos.py``) writes, beside each video:

- ``<video stem><scorer>.h5``: no separator between stem and scorer; the scorer
  starts with ``DLC`` (``find_analyzed_data`` matches ``videoname + scorer``,
  ``analyze_videos_converth5_to_csv`` lists files with ``DLC`` in the name), and
  the same scorer is the table's top column level (``analyzeskeleton`` reads it).
- ``<video stem><scorer>_meta.pickle``: ``{"data": {...}}`` with the fields of
  ``_generate_metadata`` (:data:`META_FIELDS`); ``create_labeled_video`` and
  ``extract_outlier_frames`` read ``cropping`` and ``cropping_parameters``.

The scorer follows DeepLabCut's ``get_scorer_name``:
``DLC_<Net>_<Task><date>shuffle<shuffle>_<snapshot>``; DeepLabCut's
config-driven tools (``filterpredictions(config, videos, shuffle=...)``) compute
the scorer of *their* shuffle, so pass that name as ``scorer`` to have them pick
our file up in its place.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from lightning_pose_arch.data.formats.dlc import SINGLE_INDIVIDUAL
from lightning_pose_arch.lit.module import PoseLitModule

META_FIELDS = (
    "start", "stop", "run_duration", "Scorer", "pytorch-config", "fps", "batch_size", "frame_dimensions",
    "nframes", "iteration (active-learning)", "training set fraction", "cropping", "cropping_parameters",
    "individuals", "bodyparts", "unique_bodyparts",
)
"""Keys of ``metadata["data"]`` as DeepLabCut 3.0.2's ``_generate_metadata`` writes them, in its order."""
DLC_SINGLE_INDIVIDUALS = ["individual_1"]  # DeepLabCut's default ``individuals`` (ProjectConfig) for single-animal projects


def dlc_project(module: PoseLitModule) -> dict[str, Any] | None:
    """The DeepLabCut project the model was trained on (``Task``, ``date``, ...), or None for other data."""
    return module.dataset_info.get("dlc_project")


def dlc_scorer(module: PoseLitModule, checkpoint: str | Path, shuffle: int = 1) -> str:
    """``DLC_<Net>_<Task><date>shuffle<shuffle>_<checkpoint stem>``, e.g. ``DLC_LpaCSPNeXts_openfieldOct30shuffle1_best-029``.

    ``Net`` names our backbone (``Lpa`` + type + variant) as DeepLabCut's names its ``net_type``;
    ``Task`` and ``date`` come from the training project's ``config.yaml`` (``lpa`` and no date
    for models trained on other data).
    """
    backbone = module.hparams["cfg"]["model"]["backbone"]
    project = dlc_project(module) or {}
    net = f"Lpa{backbone['type']}{backbone.get('variant', '')}"
    return f"DLC_{net}_{project.get('Task') or 'lpa'}{project.get('date') or ''}shuffle{shuffle}_{Path(checkpoint).stem}"


def dlc_metadata(
    module: PoseLitModule,
    scorer: str,
    *,
    fps: float,
    frame_size: tuple[int, int],
    num_frames: int,
    batch_size: int,
    runtime: tuple[float, float],
) -> dict[str, dict[str, Any]]:
    """The ``_meta.pickle`` content DeepLabCut writes for one analyzed video.

    Args:
        frame_size: ``(width, height)`` of the frames in pixels (DeepLabCut's ``frame_dimensions``).
        num_frames: Frames analyzed (DeepLabCut's ``nframes``).
        runtime: ``(start, stop)`` wall-clock times (``time.time()``) of the analysis.
    """
    info, project = module.dataset_info, dlc_project(module) or {}
    width, height = frame_size
    individuals = list(info["individuals"])
    fractions = project.get("TrainingFraction") or [None]
    data = {
        "start": runtime[0],
        "stop": runtime[1],
        "run_duration": runtime[1] - runtime[0],
        "Scorer": scorer,
        "pytorch-config": {**module.hparams["cfg"], "metadata": {
            "bodyparts": list(info["bodyparts"]), "unique_bodyparts": list(info.get("unique_bodyparts") or []),
            "individuals": individuals}},
        "fps": fps,
        "batch_size": batch_size,
        "frame_dimensions": (width, height),
        "nframes": num_frames,
        "iteration (active-learning)": project.get("iteration") or 0,
        "training set fraction": fractions[0],
        "cropping": False,
        "cropping_parameters": [0, width, 0, height],
        "individuals": DLC_SINGLE_INDIVIDUALS if individuals == [SINGLE_INDIVIDUAL] else individuals,
        "bodyparts": list(info["bodyparts"]),
        "unique_bodyparts": list(info.get("unique_bodyparts") or []),
    }
    return {"data": data}


def write_meta_pickle(metadata: dict[str, Any], path: Path) -> Path:
    """Pickle ``metadata`` as DeepLabCut does (highest protocol); return ``path``."""
    with path.open("wb") as handle:
        pickle.dump(metadata, handle, pickle.HIGHEST_PROTOCOL)
    return path
