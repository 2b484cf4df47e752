"""HRNet-W18/W32/W48 backbones (timm) at stride 4."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from lightning_pose_arch.models.backbones.base import BACKBONES, BaseBackbone, create_timm_features

HRNET_VARIANTS: dict[str, str] = {"w18": "hrnet_w18", "w32": "hrnet_w32", "w48": "hrnet_w48"}
HIGH_RES_STAGE = 1  # timm stage index of the stride-4 branch (stage 0 is the stride-2 stem)


@BACKBONES.register
class HRNet(BaseBackbone):
    """High-resolution network: ``[B, 3, H, W]`` → ``[B, C, H/4, W/4]``.

    With ``fuse_branches=True`` (HRNetV2 representation) the four branch
    outputs are upsampled to stride 4 and concatenated, so ``C`` is the sum
    of branch widths (w32: 32+64+128+256 = 480); otherwise only the
    high-resolution branch is returned (w32: 32 channels).

    Args:
        variant: Width, ``"w18"``, ``"w32"`` or ``"w48"``.
        fuse_branches: Concatenate all branches at stride 4.
        pretrained: False, True (timm weights) or a path to a local weights file.
    """

    def __init__(
        self,
        variant: Literal["w18", "w32", "w48"] = "w32",
        fuse_branches: bool = True,
        pretrained: bool | str | Path = False,
    ) -> None:
        super().__init__()
        if variant not in HRNET_VARIANTS:
            raise ValueError(f"HRNet variant {variant!r} is not one of {sorted(HRNET_VARIANTS)}")
        out_indices = (1, 2, 3, 4) if fuse_branches else (HIGH_RES_STAGE,)
        self.model = create_timm_features(
            HRNET_VARIANTS[variant], pretrained, feature_location="", out_indices=out_indices
        )
        if not fuse_branches:  # the last module's fusions into the low-res branches are unused: drop them
            last = self.model.stage4[-1]
            last.fuse_layers = last.fuse_layers[:1]
        self.fuse_branches = fuse_branches
        self.stride = 4
        self.out_channels = sum(self.model.feature_info.channels())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        branches = self.model(images)
        if not self.fuse_branches:
            return branches[0]
        size = branches[0].shape[-2:]
        upsampled = [F.interpolate(b, size=size, mode="bilinear", align_corners=False) for b in branches[1:]]
        return torch.cat([branches[0], *upsampled], dim=1)
