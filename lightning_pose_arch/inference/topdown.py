"""Top-down inference: detector boxes → crops → pose model → keypoints in the frames' pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lightning_pose_arch.data.topdown import crop_transform, uncrop_keypoints, warp_crops
from lightning_pose_arch.inference.runner import frames_to_tensor, normalize, resolve_device
from lightning_pose_arch.lit.checkpoints import read_checkpoint
from lightning_pose_arch.lit.detector import DetectorLitModule
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.registry import ConfigError


def load_detector(checkpoint: str | Path, device: str = "auto", trust_checkpoint: bool = False) -> DetectorLitModule:
    """A detector checkpoint written by ``lpa detector fit``, in eval mode on ``device``."""
    contents = read_checkpoint(checkpoint, trust_checkpoint)
    hparams = contents["hyper_parameters"]
    if "detector" not in (hparams.get("cfg") or {}):
        raise ConfigError(f"{checkpoint} is not a detector checkpoint (its cfg has no 'detector'); pass the "
                          "checkpoint written by `lpa detector fit`")
    module = DetectorLitModule(hparams["cfg"], dataset_info=hparams["dataset_info"])
    module.load_state_dict(contents["state_dict"])
    return module.eval().to(resolve_device(device))


class TopDownInferencer:
    """Run a top-down pose model on the boxes a detector finds.

    ``__call__(frames [B, H0, W0, 3] uint8 RGB)`` → keypoints ``[B, N, K, 3]``
    (x, y, score) in the frames' pixels, one row per detected individual,
    best detection first. Each frame is resized to the detector's training
    size; each box (mapped to frame pixels) is cropped from the full-resolution
    frame exactly as training cropped it (aspect kept, bilinear), and the
    pose model's keypoints are mapped back through the inverse crop transform.
    Rows without a detection scoring ``min_box_score`` hold NaN coordinates and score 0.

    Args:
        pose: A pose module trained in crop mode (``dataset_info["top_down"]`` set).
        detector: A trained :class:`DetectorLitModule`.
        max_individuals: N, boxes kept per frame (default: the pose data's number of individuals).
        min_box_score: Detections scoring less are ignored.
    """

    def __init__(self, pose: PoseLitModule, detector: DetectorLitModule, max_individuals: int | None = None,
                 min_box_score: float = 0.3) -> None:
        if pose.dataset_info is None or pose.model is None or detector.dataset_info is None:
            raise ValueError("load the pose model and the detector from checkpoints written by training")
        if not pose.dataset_info.get("top_down"):
            raise ConfigError("this pose model was trained on whole frames, not top-down crops: run it without a "
                              "detector")
        self.pose, self.detector = pose.eval(), detector.eval()
        self.crop_size = tuple(pose.dataset_info["image_size"])
        self.max_individuals = max_individuals or len(pose.dataset_info["individuals"])
        self.min_box_score = min_box_score

    def detect(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``frames [B, 3, H0, W0]`` in [0, 1] → boxes ``[B, N, 4]`` (x, y, w, h, frame pixels), found ``[B, N]``."""
        info = self.detector.dataset_info
        size = tuple(info["image_size"])
        images = F.interpolate(frames, size=size, mode="bilinear", align_corners=False)
        detections = self.detector(normalize(images, info["normalization"]))
        scale = frames.new_tensor([frames.shape[-1] / size[1], frames.shape[-2] / size[0]]).repeat(2)
        boxes = detections["bboxes"][:, : self.max_individuals] * scale  # same x·W0/W mapping as keypoints
        found = detections["scores"][:, : self.max_individuals] >= self.min_box_score
        found &= (boxes[..., 2] > 0) & (boxes[..., 3] > 0)
        return boxes, found

    def predict(self, frames: np.ndarray) -> dict[str, torch.Tensor]:
        """``{"keypoints": [B, N, K, 3]}`` (crops hold one individual each: no unique bodyparts)."""
        return {"keypoints": self(frames)}

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        images = frames_to_tensor(frames, self.pose.device)
        boxes, found = self.detect(images)
        unit_box = boxes.new_tensor([0.0, 0.0, 1.0, 1.0])  # a placeholder for empty rows, masked below
        matrix = crop_transform(torch.where(found[..., None], boxes, unit_box), self.crop_size)  # [B, N, 2, 3]
        crops = warp_crops(images, matrix, self.crop_size)  # [B, N, 3, H, W]
        model = self.pose.model
        outputs = model(normalize(crops.flatten(0, 1), self.pose.dataset_info["normalization"]))
        head = model.keypoints_head
        keypoints = model.predict(outputs, [head])[head]["keypoints"][:, 0]  # [B·N, K, 3] crop pixels
        keypoints = uncrop_keypoints(keypoints.unflatten(0, found.shape), matrix).to(keypoints.dtype)
        missing = torch.tensor([float("nan"), float("nan"), 0.0], device=keypoints.device, dtype=keypoints.dtype)
        return torch.where(found[..., None, None], keypoints, missing)
