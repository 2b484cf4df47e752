"""Checkpoint files: atomic writes, loading only tensors and plain containers unless trusted."""

from __future__ import annotations

import re
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.demos.boring_classes import BoringModel

from helpers import REPO, heatmap_model_cfg, save_untrained_checkpoint
from lightning_pose_arch.cli import main
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.inference.runner import load_module
from lightning_pose_arch.lit.checkpoints import (
    AtomicCheckpointIO,
    PoseCheckpoint,
    UntrustedCheckpointError,
)
from lightning_pose_arch.lit.module import PoseLitModule


class Payload:
    """An arbitrary class: unpickling it means importing and running code named by the file."""


def test_failed_save_leaves_the_previous_checkpoint_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    io, path = AtomicCheckpointIO(), tmp_path / "ckpts" / "last.ckpt"
    io.save_checkpoint({"step": torch.tensor(1), "weights": torch.ones(1000)}, path)
    before = path.read_bytes()

    def crash_midway(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(OSError, match="No space left"):
        io.save_checkpoint({"step": torch.tensor(2), "weights": torch.zeros(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert torch.load(path, weights_only=True)["step"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temporary leftovers


def test_trainer_checkpoints_load_with_weights_only(synthetic_project: Path, tmp_path: Path) -> None:
    """Everything a fit writes (hparams, optimizer, scheduler, callbacks, loops, split) is plain data."""
    datamodule = PoseDataModule(synthetic_project, image_size=(64, 96), batch_size=4, num_workers=0, val_fraction=0.25)
    module = PoseLitModule({"model": heatmap_model_cfg(), "scheduler": {"type": "StepLR", "step_size": 1}})
    trainer = L.Trainer(max_steps=1, limit_val_batches=1, default_root_dir=tmp_path, enable_progress_bar=False,
                        enable_model_summary=False, plugins=[AtomicCheckpointIO()],
                        callbacks=[L.pytorch.callbacks.ModelCheckpoint(save_last=True)])
    trainer.fit(module, datamodule)
    last = trainer.checkpoint_callback.last_model_path
    assert last.endswith("last.ckpt")
    contents = torch.load(last, weights_only=True)
    expected = {"state_dict", "optimizer_states", "lr_schedulers", "callbacks", "loops", "hyper_parameters"}
    assert expected <= set(contents)
    assert contents["PoseDataModule"]["split"] == datamodule.split
    assert load_module(last, "cpu").dataset_info["bodyparts"] == datamodule.bodyparts


def test_pickled_objects_are_refused_unless_trusted(synthetic_project: Path, tmp_path: Path) -> None:
    path = save_untrained_checkpoint(tmp_path / "model.ckpt", synthetic_project)
    contents = torch.load(path, weights_only=True)
    contents["hyper_parameters"]["payload"] = Payload()
    torch.save(contents, path)
    with pytest.raises(UntrustedCheckpointError, match=re.escape("holds an object of type test_checkpoints.Payload")):
        load_module(path, "cpu")
    with pytest.raises(UntrustedCheckpointError, match="--trust-checkpoint"):
        main(["analyze", str(synthetic_project / "labeled-data" / "synthvideo"), "--checkpoint", str(path)])
    module = load_module(path, "cpu", trust_checkpoint=True)
    assert module.dataset_info["bodyparts"] == ["snout", "leftear", "rightear", "tailbase"]
    main(["analyze", str(synthetic_project / "labeled-data" / "synthvideo"), "--checkpoint", str(path),
          "--out", str(tmp_path), "--trust-checkpoint", "--device", "cpu"])
    assert len(list(tmp_path.glob("synthvideo*.h5"))) == 1


def test_the_package_parses_yaml_and_checkpoints_safely() -> None:
    """YAML only through ``yaml.safe_load``; ``torch.load`` only in ``read_checkpoint`` (weights_only by default)
    or with ``weights_only=True`` (plain weight files)."""
    sources = {path: path.read_text() for path in (REPO / "lightning_pose_arch").rglob("*.py")}
    unsafe_yaml = [p for p, text in sources.items() if re.search(r"yaml\.(load|unsafe_load|full_load)\(|Loader=", text)]
    assert unsafe_yaml == []
    loads = [(p.name, call) for p, text in sources.items() for call in re.findall(r"torch\.load\([^)]*\)", text)]
    assert {name for name, _ in loads} == {"checkpoints.py", "faster_rcnn.py"}
    assert [name for name, call in loads if name != "checkpoints.py" and "weights_only=True" not in call] == []


class WorseEveryEpoch(BoringModel):
    """Its monitored error only grows, so epoch 0 stays the best."""

    def on_validation_epoch_end(self) -> None:
        self.log("val/mean_pixel_error", float(self.current_epoch))


def test_last_checkpoint_is_the_latest_epoch_even_without_improvement(tmp_path: Path) -> None:
    callback = PoseCheckpoint(monitor="val/mean_pixel_error", mode="min", save_last=True, filename="best-{epoch:03d}",
                              auto_insert_metric_name=False)
    trainer = L.Trainer(max_epochs=3, limit_train_batches=2, limit_val_batches=1, default_root_dir=tmp_path,
                        callbacks=[callback], logger=False, enable_progress_bar=False)
    saved_at = []
    original = trainer.strategy.save_checkpoint
    trainer.strategy.save_checkpoint = lambda checkpoint, path, **kw: (saved_at.append(Path(path).name),
                                                                       original(checkpoint, path, **kw))
    trainer.fit(WorseEveryEpoch())
    assert sorted(p.name for p in Path(callback.dirpath).iterdir()) == ["best-000.ckpt", "last.ckpt"]
    assert torch.load(Path(callback.dirpath) / "last.ckpt", weights_only=False)["epoch"] == 2
    assert saved_at == ["best-000.ckpt", "last.ckpt", "last.ckpt", "last.ckpt"]  # once per epoch, never twice
