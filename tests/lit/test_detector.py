"""DetectorLitModule: trains on keypoint-derived boxes, logs box mAP, checkpoints describe themselves."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pandas as pd
import pytest
import torch

from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.data.topdown import TopDownConfig
from lightning_pose_arch.inference.topdown import load_detector
from lightning_pose_arch.lit.detector import DetectorLitModule
from lightning_pose_arch.registry import ConfigError

SMALL_DETECTOR = {"type": "FasterRCNN", "variant": "mobilenet_v3_large_320_fpn", "min_size": 64, "max_size": 96,
                  "max_detections": 3}


def test_boxes_are_the_padded_keypoint_boxes() -> None:
    module = DetectorLitModule({"detector": SMALL_DETECTOR, "box_padding": 2.0})
    keypoints = torch.tensor([[[[10.0, 20.0, 2.0], [30.0, 40.0, 2.0]], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]])
    assert module.labeled_boxes(keypoints).tolist() == [[[0.0, 10.0, 40.0, 40.0], [0.0, 0.0, 0.0, 0.0]]]


@pytest.mark.parametrize(("cfg", "message"), [
    ({"detecter": SMALL_DETECTOR}, "must be a dict with a 'detector' key"),
    ({"detector": SMALL_DETECTOR, "box_pading": 1.2}, "did you mean 'box_padding'"),
    ({"detector": SMALL_DETECTOR, "box_padding": 0.5}, "box_padding must be >= 1"),
    ({"detector": SMALL_DETECTOR, "optimizer": {"type": "SDG"}}, "did you mean 'SGD'"),
    ({"detector": {"type": "FasterRCNN", "variant": "yolo"}}, "variant"),
])
def test_bad_config_fails_at_construction(cfg: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DetectorLitModule(cfg)


def test_fit_logs_box_map_and_checkpoint_loads_for_inference(synthetic_project: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    datamodule = PoseDataModule(synthetic_project, image_size=(64, 96), num_workers=0, batch_size=4, val_fraction=0.25)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, default_root_dir=tmp_path, enable_progress_bar=False,
                        enable_checkpointing=False, log_every_n_steps=1)
    module = DetectorLitModule({"detector": SMALL_DETECTOR})
    trainer.fit(module, datamodule)
    metrics = pd.read_csv(Path(trainer.log_dir) / "metrics.csv")
    assert metrics["train/loss"].notna().sum() == 2
    assert {"val/map", "val/map_50", "val/map_75", "val/mar_10"} <= set(trainer.callback_metrics)
    assert 0.0 <= float(trainer.callback_metrics["val/map_50"]) <= 1.0
    trainer.save_checkpoint(tmp_path / "detector.ckpt")
    loaded = load_detector(tmp_path / "detector.ckpt", device="cpu")
    assert loaded.dataset_info["image_size"] == [64, 96]
    images = torch.randn(2, 3, 64, 96)
    module.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(images)["bboxes"], module(images)["bboxes"])


def test_crop_mode_data_is_refused(synthetic_project: Path, tmp_path: Path) -> None:
    datamodule = PoseDataModule(synthetic_project, image_size=(64, 64), num_workers=0, crop=TopDownConfig())
    trainer = L.Trainer(max_steps=1, default_root_dir=tmp_path, enable_progress_bar=False, logger=False)
    with pytest.raises(ConfigError, match="remove data.crop"):
        trainer.fit(DetectorLitModule({"detector": SMALL_DETECTOR}), datamodule)
