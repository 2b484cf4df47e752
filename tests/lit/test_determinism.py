"""The same seed gives the same training losses on CPU (augmentations included)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest

from helpers import heatmap_model_cfg
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.lit.module import PoseLitModule

STEPS = 4


class StepLosses(L.Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))


def step_losses(project: Path, root: Path, seed: int, num_workers: int) -> list[float]:
    L.seed_everything(seed, workers=True)
    datamodule = PoseDataModule(project, image_size=(64, 96), batch_size=4, num_workers=num_workers)
    recorder = StepLosses()
    trainer = L.Trainer(max_steps=STEPS, accelerator="cpu", deterministic=True, default_root_dir=root, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, callbacks=[recorder])
    trainer.fit(PoseLitModule({"model": heatmap_model_cfg()}), datamodule)
    return recorder.losses


@pytest.mark.parametrize("num_workers", [0, 2])
def test_same_seed_same_step_losses(synthetic_project: Path, tmp_path: Path, num_workers: int) -> None:
    first = step_losses(synthetic_project, tmp_path / "a", seed=0, num_workers=num_workers)
    second = step_losses(synthetic_project, tmp_path / "b", seed=0, num_workers=num_workers)
    assert len(first) == STEPS
    assert first == second  # exactly: same initial weights, batches and augmentations
    if num_workers == 0:
        assert step_losses(synthetic_project, tmp_path / "c", seed=1, num_workers=0) != first
