"""Detector boxes → crops → pose → file-pixel keypoints, and how analyze picks the path."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from helpers import heatmap_model_cfg
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.data.topdown import TopDownConfig, bbox_from_keypoints
from lightning_pose_arch.inference.analyze import analyze
from lightning_pose_arch.inference.topdown import TopDownInferencer
from lightning_pose_arch.lit.detector import DetectorLitModule
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.models.preprocess import InputTransform
from lightning_pose_arch.registry import ConfigError

NORMALIZATION = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
DOTS = torch.tensor([[20.0, 30.0], [35.0, 22.0], [28.0, 40.0]])  # keypoint k is a bright pixel in channel k


class BoxDetector(nn.Module):
    """Stands in for a trained detector: returns fixed boxes (detector-input pixels) and scores."""

    def __init__(self, bboxes: torch.Tensor, scores: torch.Tensor, image_size: list[int]) -> None:
        super().__init__()
        self.bboxes, self.scores = bboxes, scores
        self.dataset_info = {"image_size": image_size, "normalization": NORMALIZATION}
        self.preprocess = InputTransform(image_size, NORMALIZATION["mean"], NORMALIZATION["std"])

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        assert images.shape[-2:] == tuple(self.dataset_info["image_size"])
        return {"bboxes": self.bboxes.expand(len(images), -1, -1), "scores": self.scores.expand(len(images), -1)}


class BrightestPixelModel(nn.Module):
    """Stands in for a pose model: keypoint k is the brightest pixel of channel k of the crop."""

    heads = {"bodypart": None}
    keypoints_head = "bodypart"

    def __init__(self, crop_size: list[int]) -> None:
        super().__init__()
        self.input_transform = InputTransform(crop_size, NORMALIZATION["mean"], NORMALIZATION["std"])

    def predict_inputs(self, images: torch.Tensor, names: list, flip_pairs: dict | None) -> dict:
        return self.predict(self(images))

    def forward(self, images: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
        return {"bodypart": {"image": images}}

    def predict(self, outputs: dict, names: list[str] | None = None) -> dict[str, dict[str, torch.Tensor]]:
        images = outputs["bodypart"]["image"]
        flat = images.flatten(2).argmax(dim=2)  # [B, 3]
        xy = torch.stack([flat % images.shape[-1], flat // images.shape[-1]], dim=-1).float()
        return {"bodypart": {"keypoints": torch.cat([xy, torch.ones_like(xy[..., :1])], -1)[:, None]}}


def pose_module(top_down: bool, crop_size: list[int]) -> PoseLitModule:
    info = {"bodyparts": ["a", "b", "c"], "individuals": ["animal1", "animal2"], "skeleton": [],
            "image_size": crop_size, "normalization": NORMALIZATION,
            "top_down": {"padding": 1.25} if top_down else None}
    module = PoseLitModule({"model": heatmap_model_cfg()}, dataset_info=info)
    module.model = BrightestPixelModel(crop_size)
    return module


def test_detections_crop_predict_and_map_back_to_frame_pixels() -> None:
    frame = np.zeros((1, 64, 96, 3), dtype=np.uint8)
    for k, (x, y) in enumerate(DOTS.long().tolist()):
        frame[0, y, x, k] = 255
    box = bbox_from_keypoints(torch.cat([DOTS, torch.full((3, 1), 2.0)], 1), padding=1.25)
    detector_boxes = torch.stack([box / 2, torch.zeros(4)])[None]  # the detector sees the frame at half size
    detector = BoxDetector(detector_boxes, torch.tensor([[0.9, 0.1]]), image_size=[32, 48])
    inferencer = TopDownInferencer(pose_module(True, [32, 32]), detector)
    keypoints = inferencer(frame)
    assert keypoints.shape == (1, 2, 3, 3)
    assert (keypoints[0, 0, :, :2] - DOTS).abs().max() < 1.0  # crop pixels → frame pixels
    assert keypoints[0, 0, :, 2].tolist() == [1.0, 1.0, 1.0]
    assert torch.isnan(keypoints[0, 1, :, :2]).all() and (keypoints[0, 1, :, 2] == 0).all()  # score 0.1 < 0.3


def test_whole_frame_model_refuses_a_detector() -> None:
    with pytest.raises(ConfigError, match="trained on whole frames"):
        TopDownInferencer(pose_module(False, [32, 32]), BoxDetector(torch.zeros(1, 1, 4), torch.zeros(1, 1), [32, 48]))


@pytest.fixture(scope="module")
def top_down_checkpoints(synthetic_project: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("topdown")
    options = dict(num_workers=0, batch_size=4, val_fraction=0.25)
    trainer_options = dict(max_steps=1, default_root_dir=root, logger=False, enable_checkpointing=False,
                           enable_progress_bar=False, limit_val_batches=0)
    pose = L.Trainer(**trainer_options)
    pose.fit(PoseLitModule({"model": heatmap_model_cfg()}),
             PoseDataModule(synthetic_project, image_size=(64, 64), crop=TopDownConfig(), **options))
    pose.save_checkpoint(root / "pose.ckpt")
    detector = L.Trainer(**trainer_options)
    detector_cfg = {"type": "FasterRCNN", "variant": "mobilenet_v3_large_320_fpn", "min_size": 64, "max_size": 96,
                    "box_score_thresh": 0.0}
    detector.fit(DetectorLitModule({"detector": detector_cfg}),
                 PoseDataModule(synthetic_project, image_size=(64, 96), **options))
    detector.save_checkpoint(root / "detector.ckpt")
    return root / "pose.ckpt", root / "detector.ckpt"


def test_analyze_runs_the_top_down_path(top_down_checkpoints, synthetic_video: Path, checkpoint: Path,
                                        tmp_path: Path) -> None:
    pose, detector = top_down_checkpoints
    written = analyze(pose, [synthetic_video], out_dir=tmp_path, device="cpu", progress=False, detector=detector)
    table = pd.read_hdf(written[0])
    assert table.shape == (10, 12)  # 10 frames; one individual × 4 bodyparts × (x, y, likelihood)
    with pytest.raises(ConfigError, match="top-down model.*--detector"):
        analyze(pose, [synthetic_video], out_dir=tmp_path, device="cpu", progress=False)
    with pytest.raises(ConfigError, match="trained on whole frames"):
        analyze(checkpoint, [synthetic_video], out_dir=tmp_path, device="cpu", progress=False, detector=detector)
