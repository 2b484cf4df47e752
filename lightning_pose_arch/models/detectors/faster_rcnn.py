"""torchvision Faster R-CNN detectors, one class ("individual"), behind the detector contract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal
from urllib.error import URLError

import torch
from torchvision.models import detection
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor

from lightning_pose_arch.models.detectors.base import DETECTORS, BaseDetector, Detections, xywh_to_xyxy, xyxy_to_xywh
from lightning_pose_arch.registry import ConfigError

FasterRCNNVariant = Literal["mobilenet_v3_large_320_fpn", "mobilenet_v3_large_fpn", "resnet50_fpn", "resnet50_fpn_v2"]
FASTER_RCNN_VARIANTS: dict[str, Callable[..., detection.FasterRCNN]] = {
    "mobilenet_v3_large_320_fpn": detection.fasterrcnn_mobilenet_v3_large_320_fpn,
    "mobilenet_v3_large_fpn": detection.fasterrcnn_mobilenet_v3_large_fpn,
    "resnet50_fpn": detection.fasterrcnn_resnet50_fpn,
    "resnet50_fpn_v2": detection.fasterrcnn_resnet50_fpn_v2,
}


def _build(variant: str, coco_weights: bool, **options: object) -> detection.FasterRCNN:
    """The torchvision model; with ``coco_weights``, a clear error when they can be neither found nor downloaded."""
    builder = FASTER_RCNN_VARIANTS[variant]
    try:
        return builder(weights="DEFAULT" if coco_weights else None, weights_backbone=None, **options)
    except (URLError, OSError) as err:
        raise ConfigError(
            f"FasterRCNN pretrained=true needs torchvision's COCO weights for {variant}, which are not in torch's "
            f"cache ({Path(torch.hub.get_dir()) / 'checkpoints'}) and could not be downloaded ({err}). Use "
            "pretrained: false, or pass a local file of the model's weights: pretrained: /path/to/weights.pth"
        ) from err


@DETECTORS.register
class FasterRCNN(BaseDetector):
    """torchvision Faster R-CNN with a two-class (background, individual) box predictor.

    ``forward(images [B, 3, H, W])`` → ``{"bboxes": [B, M, 4] (x, y, w, h),
    "scores": [B, M]}`` in input pixels, best first, zero-padded to
    M = ``max_detections``. ``get_loss(images, bboxes [B, N, 4])`` →
    ``{"total", "loss_classifier", "loss_box_reg", "loss_objectness",
    "loss_rpn_box_reg"}``; boxes with no area are missing individuals.
    Images are taken as the pose model gets them (already normalized:
    torchvision's own normalization is switched off); torchvision still
    resizes them internally to ``min_size``/``max_size`` and maps boxes back.

    Args:
        variant: Backbone of the torchvision model.
        pretrained: Start from torchvision's COCO weights (``true``: from torch's cache or
            downloaded; offline and not cached, it fails at once saying so), or from a local
            file holding the torchvision model's state dict (a path); the box predictor is
            replaced by a two-class one either way.
        max_detections: M, boxes kept per image.
        box_score_thresh: Boxes scoring below it are dropped (slots stay zero).
        min_size: Shorter image side inside the model (``None``: the variant's default).
        max_size: Longer-side cap inside the model (``None``: the variant's default).
    """

    def __init__(
        self,
        variant: FasterRCNNVariant = "mobilenet_v3_large_fpn",
        pretrained: bool | str | Path = False,
        max_detections: int = 10,
        box_score_thresh: float = 0.05,
        min_size: int | None = None,
        max_size: int | None = None,
    ) -> None:
        super().__init__()
        if variant not in FASTER_RCNN_VARIANTS:
            raise ValueError(f"FasterRCNN variant must be one of {sorted(FASTER_RCNN_VARIANTS)}, got {variant!r}")
        if max_detections <= 0 or not 0.0 <= box_score_thresh < 1.0:
            raise ValueError(f"FasterRCNN max_detections must be > 0 and box_score_thresh in [0, 1), "
                             f"got {max_detections} and {box_score_thresh}")
        sizes = {key: value for key, value in (("min_size", min_size), ("max_size", max_size)) if value is not None}
        self.model = _build(variant, pretrained is True, image_mean=[0.0, 0.0, 0.0], image_std=[1.0, 1.0, 1.0],
                            box_detections_per_img=max_detections, box_score_thresh=box_score_thresh, **sizes)
        if isinstance(pretrained, (str, Path)):
            path = Path(pretrained).expanduser()
            if not path.is_file():
                raise ConfigError(f"FasterRCNN pretrained weights file {path} does not exist")
            self.model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        predictor = self.model.roi_heads.box_predictor
        self.model.roi_heads.box_predictor = FastRCNNPredictor(predictor.cls_score.in_features, num_classes=2)
        self.max_detections = max_detections

    def get_loss(self, images: torch.Tensor, bboxes: torch.Tensor) -> dict[str, torch.Tensor]:
        if not self.training:
            raise RuntimeError("FasterRCNN.get_loss needs train mode (torchvision computes losses only then)")
        valid = (bboxes[..., 2] > 0) & (bboxes[..., 3] > 0)  # [B, N]
        boxes = xywh_to_xyxy(bboxes.to(images.dtype))
        targets = [{"boxes": boxes[b][valid[b]], "labels": torch.ones(int(valid[b].sum()), dtype=torch.int64,
                                                                      device=images.device)}
                   for b in range(images.shape[0])]
        losses = self.model(list(images), targets)
        return {"total": sum(losses.values()), **losses}

    def forward(self, images: torch.Tensor) -> Detections:
        if self.training:
            raise RuntimeError("FasterRCNN.forward detects in eval mode; train with get_loss")
        detections = self.model(list(images))
        bboxes = images.new_zeros(images.shape[0], self.max_detections, 4)
        scores = images.new_zeros(images.shape[0], self.max_detections)
        for b, found in enumerate(detections):  # torchvision returns one variable-length dict per image
            count = found["boxes"].shape[0]
            bboxes[b, :count] = xyxy_to_xywh(found["boxes"])
            scores[b, :count] = found["scores"]
        return {"bboxes": bboxes, "scores": scores}
