"""Checkpoint files: atomic writes, safe reads, and finding the last checkpoint of a run.

Lightning (2.6) saves through an fsspec transaction: the bytes go to a temporary file in the
*system* temp folder, which is then ``shutil.move``d to the checkpoint path. That is a rename
(atomic) only when the temp folder and the checkpoint folder share a filesystem; otherwise it
is a copy that a crash can cut short, and a killed process leaves its temp file behind.
:class:`AtomicCheckpointIO` writes next to the target and renames, so a checkpoint path always
holds either the previous complete file or the new complete file.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import lightning as L
import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins import TorchCheckpointIO
from lightning.pytorch.utilities import rank_zero_info

from lightning_pose_arch.data.formats.base import new_file_mode
from lightning_pose_arch.registry import ConfigError

TRUST_HINT = "pass trust_checkpoint=True (lpa: --trust-checkpoint) only if you trust where the file came from"


class UntrustedCheckpointError(ConfigError):
    """A checkpoint holds pickled objects other than tensors and plain containers."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temporary file in the checkpoint's folder, ``fsync``, then ``os.replace``.

    An interrupted save (crash, SIGKILL, full disk) leaves the previous checkpoint intact and no
    partial file under the checkpoint's name. Remote paths (``s3://`` ...) use Lightning's writer.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None or not isinstance(get_filesystem(path), LocalFileSystem):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as tmp:
                torch.save(checkpoint, tmp)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.chmod(tmp_name, new_file_mode(path))  # mkstemp makes owner-only files; honour the umask
            os.replace(tmp_name, path)
        except (OSError, RuntimeError) as err:
            raise save_error(path, err) from err
        finally:
            if os.path.exists(tmp_name):
                os.remove(tmp_name)


class PoseCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose ``last.ckpt`` is always the latest epoch, and that keeps the
    latest checkpoint when there is nothing to monitor.

    Lightning (2.6) rewrites ``last.ckpt`` only in a step that also wrote a best (top-k)
    checkpoint, so after the last improvement ``last.ckpt`` stops moving and resuming from it
    silently repeats every later epoch; here it is written at every checkpoint event.
    With a data module that has no validation split (``val_fraction=0``) the monitored
    validation metric never exists; instead of warning every epoch and never saving a "best"
    checkpoint, it then keeps the latest one (``save_top_k`` newest).
    """

    _last_written_step: int | None = None

    def _save_topk_checkpoint(self, trainer: L.Trainer, monitor_candidates: dict[str, torch.Tensor]) -> None:
        super()._save_topk_checkpoint(trainer, monitor_candidates)
        if self.save_last and self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, monitor_candidates)

    def _save_last_checkpoint(self, trainer: L.Trainer, monitor_candidates: dict[str, torch.Tensor]) -> None:
        if self._last_written_step == trainer.global_step:  # already written in this step
            return
        super()._save_last_checkpoint(trainer, monitor_candidates)
        self._last_written_step = trainer.global_step

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        datamodule = getattr(trainer, "datamodule", None)
        if self.monitor is not None and getattr(datamodule, "has_validation", True) is False:
            rank_zero_info(f"no validation split: checkpoints keep the latest epoch instead of the best {self.monitor}")
            self.monitor = None
        super().setup(trainer, pl_module, stage)


def save_error(path: Path, err: BaseException) -> BaseException:
    """The error to raise when writing ``path`` failed: a full disk is named as such (torch's writer reports it as
    ``enforce fail ... unexpected pos``); other errors pass through unchanged."""
    full = getattr(err, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or \
        any(sign in str(err) for sign in ("unexpected pos", "PytorchStreamWriter failed"))
    if not full:
        return err
    free = shutil.disk_usage(path.parent).free
    return OSError(errno.ENOSPC, f"no space left on the device (or disk quota exceeded) while saving checkpoint "
                                 f"{path}: {free / 2**20:.1f} MiB free in {path.parent}. The previous checkpoint at "
                                 "this path is intact; free some space or point default_root_dir (or the "
                                 f"checkpoint callback's dirpath) at a disk with room [{type(err).__name__}: "
                                 f"{str(err).splitlines()[0][:200] if str(err) else ''}]")


def read_checkpoint(path: str | Path, trust_checkpoint: bool = False) -> dict[str, Any]:
    """Load a training checkpoint's contents on the CPU.

    By default only tensors and plain containers are unpickled (``torch.load(weights_only=True)``),
    so a file from an untrusted source cannot run code; ``trust_checkpoint=True`` unpickles anything.

    Raises:
        FileNotFoundError: no file at ``path``.
        UntrustedCheckpointError: the file holds other objects and ``trust_checkpoint`` is False.
        ConfigError: the file is not a PyTorch checkpoint, or not one written by training this package.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        contents = torch.load(path, map_location="cpu", weights_only=not trust_checkpoint)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL (\S+) was not an allowed global", str(err))
        if not trust_checkpoint and zipfile.is_zipfile(path) and "Weights only load failed" in str(err):
            what = f"an object of type {found.group(1)}" if found else "objects other than tensors and plain containers"
            raise UntrustedCheckpointError(
                f"checkpoint {path} holds {what}; it was not loaded because unpickling it can run arbitrary code "
                f"(only tensors, numbers, strings, lists and dicts are loaded by default): {TRUST_HINT}"
            ) from err
        raise _not_a_checkpoint(path, err) from err
    except (RuntimeError, EOFError, KeyError, ValueError, OSError) as err:
        raise _not_a_checkpoint(path, err) from err
    hparams = contents.get("hyper_parameters") if isinstance(contents, dict) else None
    if not isinstance(hparams, dict) or not hparams.get("cfg") or not hparams.get("dataset_info") \
            or "state_dict" not in contents:
        raise ConfigError(f"{path} is a PyTorch file but not a trained lightning_pose_arch checkpoint (it needs "
                          "'state_dict' and 'hyper_parameters' with 'cfg' and 'dataset_info'): pass a .ckpt written "
                          "by `lpa fit` or Trainer.save_checkpoint after training")
    return contents


def _not_a_checkpoint(path: Path, err: BaseException) -> ConfigError:
    if not zipfile.is_zipfile(path):
        reason = "checkpoints are zip archives written by torch.save; this file is not one"
    else:
        reason = f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
    return ConfigError(f"{path} is not a readable PyTorch checkpoint ({reason}); pass a .ckpt written by "
                       "`lpa fit` or Trainer.save_checkpoint (a copy cut short also reads like this)")


def checkpoint_folders(trainer: L.Trainer) -> set[Path]:
    """``trainer.default_root_dir`` and every checkpoint callback's folder that exists (searched recursively)."""
    folders = {Path(trainer.default_root_dir)}
    folders |= {Path(cb.dirpath) for cb in trainer.checkpoint_callbacks if getattr(cb, "dirpath", None)}
    return {folder for folder in folders if folder.is_dir()}
