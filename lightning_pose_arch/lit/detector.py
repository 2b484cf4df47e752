"""DetectorLitModule: a DETECTORS member trained on boxes derived from keypoint labels."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
from torchmetrics.detection import MeanAveragePrecision

from lightning_pose_arch.data.topdown import bbox_from_keypoints
from lightning_pose_arch.data.transforms import IMAGENET_NORMALIZATION
from lightning_pose_arch.data.types import PoseBatch
from lightning_pose_arch.lit.optim import build_optimizer, build_scheduler, check_optimization
from lightning_pose_arch.models.detectors import DETECTORS, BaseDetector
from lightning_pose_arch.models.preprocess import InputTransform
from lightning_pose_arch.registry import ConfigError, check_cfg_keys

DETECTOR_CFG_KEYS = ("detector", "optimizer", "scheduler", "box_padding")
DEFAULT_DETECTOR_OPTIMIZER = {"type": "SGD", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4}
LOGGED_MAP_KEYS = ("map", "map_50", "map_75", "mar_10")


def _check_detector_cfg(cfg: Mapping[str, Any]) -> None:
    check_cfg_keys(cfg, "DetectorLitModule", required="detector", valid=DETECTOR_CFG_KEYS)
    if float(cfg.get("box_padding", 1.25)) < 1.0:
        raise ConfigError(f"DetectorLitModule box_padding must be >= 1, got {cfg['box_padding']}")
    check_optimization(cfg, DEFAULT_DETECTOR_OPTIMIZER)


class DetectorLitModule(L.LightningModule):
    """Train and run a detector that finds each individual, for top-down pose estimation.

    Trained on whole frames from :class:`~lightning_pose_arch.data.datamodule.PoseDataModule`
    (without ``crop``): each labeled individual's box is the box around its keypoints,
    enlarged by ``box_padding`` (:func:`~lightning_pose_arch.data.topdown.bbox_from_keypoints`),
    the same boxes a top-down pose model is trained on, so detections crop as training did.

    ``cfg`` keys: ``detector`` (a ``DETECTORS`` config, e.g. ``{"type": "FasterRCNN"}``),
    ``optimizer`` (default SGD lr 0.01, momentum 0.9), ``scheduler``, ``box_padding`` (1.25).
    Validation/test log COCO box mAP (``val/map``, ``val/map_50``, ``val/map_75``,
    ``val/mar_10``) in input pixels. Checkpoints carry ``cfg`` and ``dataset_info``
    (image size and normalization), so ``DetectorLitModule.load_from_checkpoint(path)``
    is all inference needs.

    Args:
        cfg: The configuration dict; copied, never mutated.
        dataset_info: Data facts (see ``PoseDataModule.dataset_info``); filled from the datamodule when ``None``.
    """

    def __init__(self, cfg: dict[str, Any], dataset_info: dict[str, Any] | None = None) -> None:
        super().__init__()
        _check_detector_cfg(cfg)
        self.save_hyperparameters({"cfg": copy.deepcopy(dict(cfg)), "dataset_info": copy.deepcopy(dataset_info)})
        self.detector: BaseDetector = DETECTORS.build(cfg["detector"])
        self.box_padding = float(cfg.get("box_padding", 1.25))
        self.box_map = torch.nn.ModuleDict({stage: MeanAveragePrecision(box_format="xywh", iou_type="bbox")
                                            for stage in ("val", "test")})
        self._input_transform: InputTransform | None = None  # built from dataset_info on first use

    @property
    def dataset_info(self) -> dict[str, Any] | None:
        return self.hparams["dataset_info"]

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if getattr(datamodule, "crop", None) is not None:
            raise ConfigError("DetectorLitModule trains on whole frames: remove data.crop (crop mode is for the "
                              "top-down pose model)")
        if self.dataset_info is None and hasattr(datamodule, "dataset_info"):
            self.hparams["dataset_info"] = copy.deepcopy(datamodule.dataset_info())

    def labeled_boxes(self, keypoints: torch.Tensor) -> torch.Tensor:
        """``[B, N, 4]`` (x, y, w, h) boxes of the labeled individuals in ``keypoints [B, N, K, 3]``; zero if none."""
        return bbox_from_keypoints(keypoints, padding=self.box_padding)

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames ``[B, H0, W0, 3]`` or ``[B, 3, H0, W0]`` (0–255, any size) → normalized ``[B, 3, H, W]`` at the
        training image size, on the module's device (see :class:`InputTransform`)."""
        if self._input_transform is None:
            info = self.dataset_info or {}
            if "image_size" not in info:
                raise RuntimeError("the detector has no dataset_info: load it from a training checkpoint")
            normalization = info.get("normalization") or IMAGENET_NORMALIZATION
            self._input_transform = InputTransform(info["image_size"], normalization["mean"], normalization["std"])
        return self._input_transform.to(self.device)(frames.to(self.device))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """``images [B, 3, H, W]`` (normalized) → ``{"bboxes": [B, M, 4], "scores": [B, M]}`` in input pixels."""
        return self.detector(images)

    def training_step(self, batch: PoseBatch, batch_idx: int) -> torch.Tensor:
        losses = self.detector.get_loss(self.preprocess(batch["image"]), self.labeled_boxes(batch["keypoints"]))
        batch_size = batch["image"].shape[0]
        self.log_dict({f"train/loss/{k}": v for k, v in losses.items() if k != "total"}, batch_size=batch_size)
        self.log("train/loss", losses["total"], batch_size=batch_size, prog_bar=True)
        return losses["total"]

    def validation_step(self, batch: PoseBatch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: PoseBatch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def _evaluate(self, batch: PoseBatch, stage: str) -> None:
        detections = self(self.preprocess(batch["image"]))
        boxes = self.labeled_boxes(batch["keypoints"])
        preds, targets = [], []
        for b in range(boxes.shape[0]):
            found, labeled = detections["scores"][b] > 0, (boxes[b, :, 2] > 0) & (boxes[b, :, 3] > 0)
            preds.append({"boxes": detections["bboxes"][b][found], "scores": detections["scores"][b][found],
                          "labels": torch.zeros(int(found.sum()), dtype=torch.long, device=boxes.device)})
            targets.append({"boxes": boxes[b][labeled],
                            "labels": torch.zeros(int(labeled.sum()), dtype=torch.long, device=boxes.device)})
        self.box_map[stage].update(preds, targets)

    def on_validation_epoch_end(self) -> None:
        self._log_map("val")

    def on_test_epoch_end(self) -> None:
        self._log_map("test")

    def _log_map(self, stage: str) -> None:
        results = self.box_map[stage].compute()
        self.log_dict({f"{stage}/{key}": results[key].float() for key in LOGGED_MAP_KEYS}, prog_bar=True)
        self.box_map[stage].reset()

    def configure_optimizers(self) -> Any:
        cfg = self.hparams["cfg"]
        optimizer = build_optimizer(cfg.get("optimizer") or DEFAULT_DETECTOR_OPTIMIZER, self.detector.parameters())
        if not cfg.get("scheduler"):
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": build_scheduler(cfg["scheduler"], optimizer)}
