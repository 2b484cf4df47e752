"""Which DeepLabCut label file of a ``labeled-data/<video>`` folder is read, and whether its twin agrees.

As DeepLabCut does, a folder holding several annotators' files (``CollectedData_Pranav.h5``,
``CollectedData_Alex.h5``) is read through ``CollectedData_<scorer of config.yaml>`` only, and the
``.h5`` is read when both ``.h5`` and ``.csv`` exist. Neither choice is silent: several
annotators' files are named in a warning, and a ``.csv`` that disagrees with its ``.h5`` is
reported with the newer file and the first differing frame.
"""

from __future__ import annotations

import datetime
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lightning_pose_arch.registry import ConfigError

PREFIX = "CollectedData_"
SUFFIXES = (".h5", ".csv")  # the first that exists is read


@dataclass(frozen=True)
class LabelSource:
    """The label file read for one folder, and its other-format twin (same scorer) if there is one."""

    path: Path
    twin: Path | None


def label_sources(root: Path, scorer: str | None) -> list[LabelSource]:
    """One :class:`LabelSource` per ``labeled-data`` folder that has label files."""
    sources = []
    for folder in sorted((root / "labeled-data").glob("*")):
        files = [p for suffix in SUFFIXES for p in sorted(folder.glob(f"{PREFIX}*{suffix}"))]
        if files:
            sources.append(_folder_source(folder, files, scorer))
    if not sources:
        raise FileNotFoundError(f"no labeled-data/*/CollectedData_*.h5 or .csv files under {root}")
    return sources


def _folder_source(folder: Path, files: list[Path], scorer: str | None) -> LabelSource:
    scorers = sorted({p.stem[len(PREFIX):] for p in files})
    chosen = scorers[0]
    if len(scorers) > 1:
        if scorer not in scorers:
            raise ConfigError(f"{folder} holds label files of several annotators {scorers} "
                              f"({', '.join(p.name for p in files)}) and none is config.yaml's scorer {scorer!r}: "
                              "set scorer in config.yaml to the annotator to train on, or keep one annotator's file")
        chosen = scorer
        warnings.warn(f"{folder} holds label files of several annotators {scorers}; reading only "
                      f"{PREFIX}{chosen} (config.yaml's scorer), as DeepLabCut does", UserWarning, stacklevel=4)
    own = [p for p in files if p.stem == f"{PREFIX}{chosen}"]
    return LabelSource(own[0], own[1] if len(own) > 1 else None)


def warn_if_twins_differ(read: pd.DataFrame, twin: pd.DataFrame, source: LabelSource) -> None:
    """Warn naming the newer file and the first differing frame when the ``.h5`` and ``.csv`` disagree."""
    difference = _first_difference(read.droplevel(0, axis=1), twin.droplevel(0, axis=1))
    if difference is None:
        return
    newer = max((source.path, source.twin), key=lambda p: p.stat().st_mtime)
    modified = datetime.datetime.fromtimestamp(newer.stat().st_mtime).isoformat(timespec="seconds")
    warnings.warn(
        f"{source.path.name} and {source.twin.name} in {source.path.parent} disagree ({difference}); "
        f"{newer.name} is the newer file (modified {modified}). Reading {source.path.name}, as DeepLabCut does: "
        "delete the stale file or save the labels again so both match", UserWarning, stacklevel=3)


def _first_difference(first: pd.DataFrame, second: pd.DataFrame) -> str | None:
    """Where two label tables first differ (frames in order, then columns), or None when they hold the same."""
    only = [f for f in dict.fromkeys([*first.index, *second.index]) if (f in first.index) != (f in second.index)]
    if only:
        return f"first differing frame: {only[0]} is in only one of them"
    if set(first.columns) != set(second.columns):
        return f"their columns differ: {sorted(set(first.columns) ^ set(second.columns))[:3]}"
    values = first.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    other = second.loc[first.index, first.columns].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    differs = ~np.isclose(values, other, rtol=0, atol=1e-3, equal_nan=True)
    if not differs.any():
        return None
    row, column = np.argwhere(differs)[0]
    name = " / ".join(map(str, first.columns[column]))
    return f"first differing frame: {first.index[row]}, {name}: {values[row, column]:g} vs {other[row, column]:g}"
