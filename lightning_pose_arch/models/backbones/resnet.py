"""ResNet-50/101 backbones (timm), with optional dilation for output stride 16 or 8."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from lightning_pose_arch.models.backbones.base import BACKBONES, BaseBackbone, create_timm_features

RESNET_VARIANTS: dict[str, str] = {"50": "resnet50", "101": "resnet101"}


@BACKBONES.register
class ResNet(BaseBackbone):
    """ResNet feature extractor: ``[B, 3, H, W]`` → ``[B, 2048, H/s, W/s]``.

    Args:
        variant: Depth, ``"50"`` or ``"101"``.
        output_stride: 32 (plain), 16 or 8 (last stages dilated instead of strided).
        pretrained: False, True (timm weights) or a path to a local weights file.
    """

    def __init__(
        self,
        variant: Literal["50", "101"] = "50",
        output_stride: Literal[8, 16, 32] = 32,
        pretrained: bool | str | Path = False,
    ) -> None:
        super().__init__()
        variant = str(variant)
        if variant not in RESNET_VARIANTS:
            raise ValueError(f"ResNet variant {variant!r} is not one of {sorted(RESNET_VARIANTS)}")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"ResNet output_stride must be 8, 16 or 32, got {output_stride!r}")
        self.model = create_timm_features(
            RESNET_VARIANTS[variant], pretrained, out_indices=(4,), output_stride=output_stride
        )
        self.stride = output_stride
        self.out_channels = self.model.feature_info.channels()[-1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)[-1]
