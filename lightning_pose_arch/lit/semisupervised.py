"""Semi-supervised training: consistency losses on unlabeled video clips, next to the labeled loss.

``PoseLitModule`` builds :class:`ConsistencyTerms` from ``cfg["consistency"]``,
fits it to the labeled training poses in ``setup`` and adds its total to the
labeled loss on every step whose batch carries unlabeled clips (a
``PoseDataModule(unlabeled=...)`` yields ``{"labeled": ..., "unlabeled": ...}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from lightning_pose_arch.data.video_clips import input_to_video
from lightning_pose_arch.models.consistency import CONSISTENCY_LOSSES, BaseConsistencyLoss
from lightning_pose_arch.models.consistency.decode import check_soft_decodable, soft_keypoints
from lightning_pose_arch.models.pose_model import PoseModel
from lightning_pose_arch.registry import ConfigError, check_keys


class ConsistencyTerms(nn.Module):
    """Decode clip keypoints differentiably from one head, map them to video pixels, apply every loss.

    ``forward(model, clips, epoch)`` with ``clips = {"frames": [B, T, 3, H, W] uint8,
    "matrix": [B, 2, 3]}`` returns ``{"total": Σ weight_at(epoch) · loss, <name>: loss, ...}``; while every
    weight is 0 (before the losses' ``start_epoch``) only ``{"total": 0}``, without running the model.

    Args:
        losses: ``{name: loss}`` (dicts with ``type`` are built by ``CONSISTENCY_LOSSES``).
        head: The head whose keypoints are judged (default: the first head trained on ``keypoints``).
        heatmap_temperature: Softmax sharpness of the heatmap soft-argmax.
        simcc_beta: Softmax temperature of the SimCC expectation (the ``KLDiscreteLoss`` beta).
    """

    def __init__(self, losses: dict[str, BaseConsistencyLoss], head: str | None = None,
                 heatmap_temperature: float = 100.0, simcc_beta: float = 10.0) -> None:
        super().__init__()
        if not losses:
            raise ConfigError(f"cfg.consistency.losses is empty; registered losses: {CONSISTENCY_LOSSES.names()}")
        self.losses = nn.ModuleDict(losses)
        self.head = head
        self.heatmap_temperature = float(heatmap_temperature)
        self.simcc_beta = float(simcc_beta)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> ConsistencyTerms:
        """Build from ``{"losses": {name: {"type": ..., ...}}, "head": ..., ...}`` (not mutated)."""
        check_keys(cls, cfg, where="cfg.consistency")
        if not isinstance(cfg.get("losses"), Mapping):
            raise ConfigError(f"cfg.consistency needs losses: {{name: {{type: ...}}}}, got {cfg.get('losses')!r}")
        losses = {name: CONSISTENCY_LOSSES.build(loss_cfg) for name, loss_cfg in cfg["losses"].items()}
        return cls(losses=losses, **{key: value for key, value in cfg.items() if key != "losses"})

    def head_name(self, model: PoseModel) -> str:
        name = self.head or model.head_for("keypoints")
        if name not in model.heads:
            raise ConfigError(f"cfg.consistency.head {name!r} is not a head of the model; heads: {list(model.heads)}")
        return name

    def fit(self, model: PoseModel, datamodule: Any) -> None:
        """Check the head, then fit each loss to the labeled training poses of ``datamodule`` (a PoseDataModule)."""
        name = self.head_name(model)
        check_soft_decodable(model.heads[name], name)
        if getattr(datamodule, "unlabeled", None) is None:
            raise ConfigError("cfg.consistency needs unlabeled video: set the data module's unlabeled.videos")
        if getattr(datamodule, "crop", None) is not None:
            raise ConfigError("cfg.consistency judges whole frames; the data module is in crop mode: unset crop")
        poses = labeled_train_poses(datamodule)
        for loss in self.losses.values():
            loss.fit(poses, list(datamodule.bodyparts))

    def forward(self, model: PoseModel, clips: Mapping[str, torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
        frames = clips["frames"]
        weights = {name: loss.weight_at(epoch) for name, loss in self.losses.items()}
        if not any(weights.values()):  # a supervised warm start: the clips would cost a forward pass for nothing
            return {"total": torch.zeros((), device=frames.device)}
        batch, length = frames.shape[:2]
        images = model.input_transform.normalize(frames.flatten(0, 1))  # clips come warped to the input size
        name = self.head_name(model)
        outputs = model(images)[name]
        keypoints = soft_keypoints(model.heads[name], outputs, model.head_strides[name],
                                   self.heatmap_temperature, self.simcc_beta)  # [B·T, K, 3] input pixels
        keypoints = input_to_video(keypoints.reshape(batch, length, *keypoints.shape[1:]), clips["matrix"])
        values = {loss_name: loss(keypoints) for loss_name, loss in self.losses.items()}
        values["total"] = sum(weights[name] * values[name] for name in self.losses)
        return values


def labeled_train_poses(datamodule: Any) -> np.ndarray:
    """``[F, K, 2]`` labeled (x, y) of the training split's frames, in image pixels, NaN where unlabeled.

    Single-animal data only: consistency losses judge one pose per frame.
    """
    project = datamodule.project
    if len(project.individuals or []) > 1:
        raise ConfigError(f"consistency losses judge one animal per frame; {project.root} labels "
                          f"{len(project.individuals)} individuals")
    row = {path: i for i, path in enumerate(project.image_paths)}
    keypoints = project.keypoints[[row[path] for path in datamodule.split["train"]], 0]  # [F, K, 3]
    return np.where(keypoints[..., 2:] > 0, keypoints[..., :2], np.nan)
