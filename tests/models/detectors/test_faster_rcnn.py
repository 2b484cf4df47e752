"""FasterRCNN detector: registry, padded detections, losses from [B, N, 4] boxes with missing individuals."""

from __future__ import annotations

from urllib.error import URLError

import pytest
import torch

from lightning_pose_arch.models.detectors import DETECTORS, BaseDetector, FasterRCNN
from lightning_pose_arch.models.detectors.faster_rcnn import FASTER_RCNN_VARIANTS
from lightning_pose_arch.models.detectors.base import xywh_to_xyxy, xyxy_to_xywh
from lightning_pose_arch.registry import ConfigError

SMALL = dict(type="FasterRCNN", variant="mobilenet_v3_large_320_fpn", min_size=64, max_size=96, max_detections=5)


def images_with_boxes() -> tuple[torch.Tensor, torch.Tensor]:
    """Two 64×96 images with bright rectangles; image 0 has two individuals, image 1 one (the other missing)."""
    images = torch.zeros(2, 3, 64, 96)
    bboxes = torch.tensor([[[10.0, 8.0, 30.0, 20.0], [50.0, 30.0, 24.0, 28.0]],
                           [[20.0, 20.0, 40.0, 30.0], [0.0, 0.0, 0.0, 0.0]]])  # x, y, w, h
    for b in range(2):
        for x, y, w, h in bboxes[b].long().tolist():
            images[b, :, y: y + h, x: x + w] = 2.0
    return images, bboxes


def test_builds_through_the_registry_and_checks_options():
    detector = DETECTORS.build(SMALL)
    assert isinstance(detector, BaseDetector) and isinstance(detector, FasterRCNN)
    with pytest.raises(ConfigError, match="variant"):
        DETECTORS.build(dict(SMALL, variant="yolo"))
    with pytest.raises(ConfigError, match="did you mean 'max_detections'"):
        DETECTORS.build(dict(SMALL, max_detection=3))
    with pytest.raises(ValueError, match="max_detections"):
        FasterRCNN(max_detections=0)


def test_box_format_helpers_round_trip():
    boxes = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert xywh_to_xyxy(boxes).tolist() == [[1.0, 2.0, 4.0, 6.0]]
    assert torch.equal(xyxy_to_xywh(xywh_to_xyxy(boxes)), boxes)


def test_detections_are_padded_to_max_detections():
    torch.manual_seed(0)
    detector = DETECTORS.build(dict(SMALL, box_score_thresh=0.0)).eval()
    images, _ = images_with_boxes()
    with torch.no_grad():
        detections = detector(images)
    assert detections["bboxes"].shape == (2, 5, 4) and detections["scores"].shape == (2, 5)
    scores = detections["scores"]
    assert ((scores >= 0) & (scores <= 1)).all()
    assert (scores[:, :-1] >= scores[:, 1:]).all()  # best first, zero-padded
    assert (detections["bboxes"][scores == 0] == 0).all()
    with pytest.raises(RuntimeError, match="eval mode"):
        detector.train()(images)


def test_two_training_steps_with_a_missing_individual():
    torch.manual_seed(0)
    detector = DETECTORS.build(SMALL).train()
    images, bboxes = images_with_boxes()
    optimizer = torch.optim.SGD(detector.parameters(), lr=1e-3, momentum=0.9)
    for _ in range(2):
        losses = detector.get_loss(images, bboxes)
        assert set(losses) == {"total", "loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
        assert all(torch.isfinite(v) for v in losses.values())
        optimizer.zero_grad()
        losses["total"].backward()
        optimizer.step()
    predictor = detector.model.roi_heads.box_predictor
    assert predictor.cls_score.out_features == 2 and predictor.cls_score.weight.grad is not None
    with pytest.raises(RuntimeError, match="train mode"):
        detector.eval().get_loss(images, bboxes)


def test_pretrained_offline_fails_at_once_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(ConfigError, match="pretrained=true needs torchvision's COCO weights.*pretrained: false"):
        DETECTORS.build(dict(SMALL, pretrained=True))


def test_pretrained_from_a_local_weights_file(tmp_path) -> None:
    torch.manual_seed(0)
    source = FasterRCNN(variant="mobilenet_v3_large_320_fpn")
    coco_like = {k: v for k, v in source.model.state_dict().items() if "box_predictor" not in k}
    torch.manual_seed(1)
    with_coco_head = FASTER_RCNN_VARIANTS["mobilenet_v3_large_320_fpn"](weights=None, weights_backbone=None)
    coco_like.update({k: v for k, v in with_coco_head.state_dict().items() if "box_predictor" in k})  # 91 classes
    torch.save(coco_like, tmp_path / "coco.pth")
    detector = DETECTORS.build(dict(SMALL, pretrained=str(tmp_path / "coco.pth")))
    backbone_key = "backbone.body.0.0.weight"
    assert torch.equal(detector.model.state_dict()[backbone_key], coco_like[backbone_key])
    assert detector.model.roi_heads.box_predictor.cls_score.out_features == 2  # replaced after loading
