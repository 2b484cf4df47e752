"""``--ckpt_path last``: which earlier checkpoint a run resumes from.

The newest checkpoint under ``trainer.default_root_dir`` (and the checkpoint callbacks' folders)
that (1) is a complete file and (2) was written by *this* experiment: same module config, same
data description, and a split over this project's frames. Several experiments may share one
``default_root_dir``; a checkpoint of another one, or one cut short (a full disk, a killed copy),
is passed over with a warning that names it and says which file is used instead.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.utilities import rank_zero_warn

from lightning_pose_arch.lit.checkpoints import checkpoint_folders, read_checkpoint
from lightning_pose_arch.registry import ConfigError


def resume_checkpoint(trainer: L.Trainer, module: L.LightningModule, datamodule: Any) -> str | None:
    """The checkpoint ``--ckpt_path last`` resumes from, or None (then the run starts afresh)."""
    candidates = [p for folder in checkpoint_folders(trainer) for p in folder.rglob("*.ckpt") if p.is_file()]
    candidates.sort(key=lambda p: (p.stat().st_mtime, p.name.startswith("last")), reverse=True)
    passed_over = []
    for path in candidates:
        reason = checkpoint_problem(path) or _other_experiment(path, module, datamodule)
        if reason is None:
            if passed_over:
                rank_zero_warn(f"--ckpt_path last: resuming from {path}; passed over newer checkpoints: "
                               f"{'; '.join(passed_over)}")
            return str(path)
        passed_over.append(f"{path} ({reason})")
    if passed_over:
        rank_zero_warn(f"--ckpt_path last: no checkpoint of this run to resume, starting afresh; passed over: "
                       f"{'; '.join(passed_over)}")
    return None


def checkpoint_problem(path: str | Path) -> str | None:
    """Why ``path`` is not a complete checkpoint archive (torch.save writes zip files), or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()  # reads every member and checks its CRC
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f"not a complete checkpoint file, e.g. cut short ({type(err).__name__}: {err})"
    return None if broken is None else f"corrupt checkpoint file (member {broken} fails its checksum)"


def check_explicit_checkpoint(ckpt_path: str | Path) -> None:
    """Refuse a ``--ckpt_path`` file that is cut short or corrupt, naming it (torch would raise a raw zip error)."""
    problem = checkpoint_problem(ckpt_path)
    if problem is not None:
        raise ConfigError(f"--ckpt_path {ckpt_path}: {problem}; pass an intact checkpoint (or --ckpt_path last, "
                          "which takes the newest intact one of this run)")


def _other_experiment(path: Path, module: L.LightningModule, datamodule: Any) -> str | None:
    """Why the checkpoint at ``path`` belongs to another experiment than ``module`` on ``datamodule``, or None."""
    try:
        contents = read_checkpoint(path)
    except ConfigError as err:  # e.g. pickled objects, or not written by this package
        return f"not readable as this package's checkpoint: {err}"
    saved = contents["hyper_parameters"]
    ours = dict(module.hparams)
    data_info = datamodule.dataset_info() if hasattr(datamodule, "dataset_info") else None
    for key in sorted(set(saved) | set(ours)):
        if key == "dataset_info":
            continue
        difference = _first_difference(saved.get(key), ours.get(key), key)
        if difference is not None:
            return f"another experiment: {difference}"
    if data_info is not None and saved.get("dataset_info") is not None:
        difference = _first_difference(saved["dataset_info"], data_info, "dataset_info")
        if difference is not None:
            return f"other data: {difference}"
    split = (contents.get(type(datamodule).__qualname__) or {}).get("split") if datamodule is not None else None
    project = getattr(datamodule, "project", None)
    if split and project is not None and not set().union(*split.values()) <= set(project.image_paths):
        return f"other data: its split lists frames that are not labeled in {project.root}"
    return None


def _first_difference(saved: Any, ours: Any, where: str) -> str | None:
    """``"<key path>: checkpoint X, this run Y"`` for the first difference between two plain values, or None."""
    if isinstance(saved, Mapping) and isinstance(ours, Mapping):
        for key in sorted(set(saved) | set(ours), key=str):
            found = _first_difference(saved.get(key), ours.get(key), f"{where}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(saved, (list, tuple)) and isinstance(ours, (list, tuple)) and len(saved) == len(ours):
        for i, (a, b) in enumerate(zip(saved, ours)):
            found = _first_difference(a, b, f"{where}[{i}]")
            if found is not None:
                return found
        return None
    return None if saved == ours else f"{where}: checkpoint {saved!r:.80}, this run {ours!r:.80}"
