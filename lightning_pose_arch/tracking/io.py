"""Untracked detections on disk, and turning them into identity tables (``lpa analyze``, ``lpa track``).

``<stem>_<model>_detections.h5`` holds every detection of every frame as a DeepLabCut-layout
table (individuals ``detection1..M``, in the model's order; unique bodyparts under ``single``)
and, in the HDF5 node's attributes, the project's individual names, so ``lpa track`` can
re-track without the network and name the identities as the project does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lightning_pose_arch.data.formats.base import atomic_output
from lightning_pose_arch.data.formats.dlc import SINGLE_INDIVIDUAL, UNIQUE_INDIVIDUAL
from lightning_pose_arch.inference.tables import fit_individuals, predictions_to_table, write_predictions
from lightning_pose_arch.tracking import build_tracker
from lightning_pose_arch.tracking.base import BaseTracker

DETECTIONS_SUFFIX = "_detections"
_KEY = "df_with_missing"


def is_multi_animal(info: Mapping[str, Any]) -> bool:
    """The project has several individuals (tracking applies)."""
    individuals = list(info.get("individuals") or [])
    return len(individuals) > 1 or (len(individuals) == 1 and individuals != [SINGLE_INDIVIDUAL])


def identities(detections: np.ndarray, num_individuals: int, tracker: BaseTracker | None) -> np.ndarray:
    """``[T, M, K, 3]`` → ``[T, N, K, 3]``: tracked, or best-first per frame without a tracker."""
    if tracker is None:
        return fit_individuals(detections, num_individuals)
    return tracker.track(detections, num_individuals)


def write_detections(stem: str | Path, predictions: Mapping[str, np.ndarray], info: Mapping[str, Any],
                     scorer: str, index: list) -> Path:
    """Write ``<stem>_detections.h5`` (module docstring) from ``predict_source``'s output; return its path."""
    keypoints = predictions["keypoints"]
    slots = [f"detection{m + 1}" for m in range(keypoints.shape[1])]
    table = predictions_to_table(keypoints, index, list(info["bodyparts"]), slots, scorer,
                                 predictions.get("unique_keypoints"), info.get("unique_bodyparts") or ())
    path = Path(stem).with_name(Path(stem).name + DETECTIONS_SUFFIX + ".h5")
    path.parent.mkdir(parents=True, exist_ok=True)
    attributes = {"individuals": list(info["individuals"]), "bodyparts": list(info["bodyparts"]),
                  "unique_bodyparts": list(info.get("unique_bodyparts") or ()), "scorer": scorer}
    with atomic_output(path) as tmp, pd.HDFStore(tmp, mode="w") as store:
        store.put(_KEY, table)
        store.get_storer(_KEY).attrs.lightning_pose_arch = attributes
    return path


def read_detections(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A detections file's table and attributes (``individuals``, ``bodyparts``, ``unique_bodyparts``, ``scorer``)."""
    path = Path(path)
    try:
        with pd.HDFStore(path, mode="r") as store:
            table = store[_KEY]
            attributes = dict(getattr(store.get_storer(_KEY).attrs, "lightning_pose_arch", None) or {})
    except (OSError, KeyError) as err:
        raise ValueError(f"{path} is not a detections file written by lpa analyze (<video>_<model>"
                         f"{DETECTIONS_SUFFIX}.h5): {err}") from err
    if not attributes.get("individuals"):
        raise ValueError(f"{path} has no individual names in its attributes: it was not written by lpa analyze")
    return table, attributes


def track_detections(path: str | Path, tracker: str | Path | Mapping[str, Any] | None = None,
                     out_dir: str | Path | None = None) -> list[Path]:
    """Re-track a detections file without the network: write ``<stem>.h5``/``.csv`` (the stem without
    ``_detections``, as ``lpa analyze`` names its tables) next to it or into ``out_dir``; return them."""
    table, attributes = read_detections(path)
    built = build_tracker(tracker)
    individuals, bodyparts = attributes["individuals"], attributes["bodyparts"]
    # a model without a head for the project's unique bodyparts writes no "single" columns
    has_unique = UNIQUE_INDIVIDUAL in table.columns.get_level_values("individuals")
    unique_bodyparts = (attributes.get("unique_bodyparts") or []) if has_unique else []
    animals = table.drop(columns=UNIQUE_INDIVIDUAL, level="individuals", errors="ignore")
    slots = list(dict.fromkeys(animals.columns.get_level_values("individuals")))
    detections = animals.to_numpy(np.float64).reshape(len(table), len(slots), len(bodyparts), 3)
    unique = (table.xs(UNIQUE_INDIVIDUAL, axis=1, level="individuals").to_numpy(np.float64)
              .reshape(len(table), 1, len(unique_bodyparts), 3) if unique_bodyparts else None)
    tracked = identities(detections, len(individuals), built)
    result = predictions_to_table(tracked, list(table.index), bodyparts, individuals, attributes["scorer"],
                                  unique, unique_bodyparts)
    path = Path(path)
    stem = path.name.removesuffix(".h5").removesuffix(DETECTIONS_SUFFIX)
    return write_predictions(result, (Path(out_dir) if out_dir is not None else path.parent) / stem)
