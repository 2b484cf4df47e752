"""Top-down inference: detector boxes → crops → pose model → keypoints in the frames' pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lightning_pose_arch.data.topdown import crop_transform, uncrop_keypoints, warp_crops
from lightning_pose_arch.inference.runner import autocast, frames_to_tensor, resolve_device
from lightning_pose_arch.lit.checkpoints import read_checkpoint
from lightning_pose_arch.lit.detector import DetectorLitModule
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.models.coordinates import input_to_frame
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
    Coordinates follow :mod:`lightning_pose_arch.models.coordinates` throughout.

    Args:
        pose: A pose module trained in crop mode (``dataset_info["top_down"]`` set).
        detector: A trained :class:`DetectorLitModule`.
        max_individuals: N, boxes kept per frame (default: the pose data's number of individuals).
        min_box_score: Detections scoring less are ignored.
        flip_test: Average each crop's prediction with the one on its mirror image.
        precision: The pose network's forward in ``32-true``, ``bf16-mixed`` or ``16-mixed`` (the detector
            runs in float32: its boxes place the crops).
    """

    def __init__(self, pose: PoseLitModule, detector: DetectorLitModule, max_individuals: int | None = None,
                 min_box_score: float = 0.3, flip_test: bool = False, precision: str = "32-true") -> None:
        if pose.dataset_info is None or pose.model is None or detector.dataset_info is None:
            raise ValueError("load the pose model and the detector from checkpoints written by training")
        if not pose.dataset_info.get("top_down"):
            raise ConfigError("this pose model was trained on whole frames, not top-down crops: run it without a "
                              "detector")
        self.pose, self.detector = pose.eval(), detector.eval()
        self.crop_size = tuple(pose.dataset_info["image_size"])
        self.max_individuals = max_individuals or len(pose.dataset_info["individuals"])
        self.min_box_score = min_box_score
        self.flip_pairs = pose.flip_pairs_by_head() if flip_test else None
        autocast(pose.device, precision)  # an unknown precision fails here
        self.precision = precision

    def detect(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``frames [B, 3, H0, W0]`` (0–255) → boxes ``[B, N, 4]`` (x, y, w, h, frame pixels), found ``[B, N]``."""
        detections = self.detector(self.detector.preprocess(frames))
        boxes = detections["bboxes"][:, : self.max_individuals]
        # Box corners are points: map them like keypoints (pixel centers at integers), input → frame pixels.
        corners = torch.stack([boxes[..., :2], boxes[..., :2] + boxes[..., 2:]], dim=-2)  # [B, N, 2, 2]
        corners = torch.cat([corners, torch.zeros_like(corners[..., :1])], dim=-1)
        size = frames.new_tensor([frames.shape[-1], frames.shape[-2]])
        corners = input_to_frame(corners, size, self.detector.dataset_info["image_size"])[..., :2]
        boxes = torch.cat([corners[..., 0, :], corners[..., 1, :] - corners[..., 0, :]], dim=-1)
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
        head = model.keypoints_head
        inputs = model.input_transform.normalize(crops.flatten(0, 1))  # the crop replaces the input step's resize
        with autocast(images.device, self.precision):
            keypoints = model.predict_inputs(inputs, [head], self.flip_pairs)[head]["keypoints"][:, 0]  # [B·N, K, 3]
        keypoints = uncrop_keypoints(keypoints.unflatten(0, found.shape), matrix).to(keypoints.dtype)
        missing = torch.tensor([float("nan"), float("nan"), 0.0], device=keypoints.device, dtype=keypoints.dtype)
        return torch.where(found[..., None, None], keypoints, missing)
