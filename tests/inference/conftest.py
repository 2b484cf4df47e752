"""A tiny trained checkpoint and a short synthetic video, shared by the inference tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import lightning as L
import pytest

from helpers import VIDEO_FRAMES, heatmap_model_cfg
from lightning_pose_arch.data.dataset import read_image
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.lit.module import PoseLitModule



@pytest.fixture(scope="session")
def checkpoint(synthetic_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ckpt")
    datamodule = PoseDataModule(synthetic_project, image_size=(64, 96), num_workers=0, batch_size=4)
    trainer = L.Trainer(max_steps=2, default_root_dir=root, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, limit_val_batches=0)
    trainer.fit(PoseLitModule({"model": heatmap_model_cfg()}), datamodule)
    trainer.save_checkpoint(root / "tiny.ckpt")
    return root / "tiny.ckpt"


@pytest.fixture(scope="session")
def synthetic_video(synthetic_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    frames = sorted((synthetic_project / "labeled-data").glob("*/*.png"))[:VIDEO_FRAMES]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (128, 96))
    for frame in frames:
        writer.write(cv2.cvtColor(read_image(frame), cv2.COLOR_RGB2BGR))
    writer.release()
    return path
