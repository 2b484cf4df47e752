"""ResNet-50/101 backbones (timm; ResNet-50 also with GroupNorm), with optional dilation for output stride 16 or 8."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from lightning_pose_arch.models.backbones.base import BACKBONES, BaseBackbone, check_out_indices, create_timm_features

# "50_gn": GroupNorm instead of BatchNorm (DeepLabCut's default ResNet-50), independent of the batch size
RESNET_VARIANTS: dict[str, str] = {"50": "resnet50", "50_gn": "resnet50_gn", "101": "resnet101"}
RESNET_STAGES = (0, 1, 2, 3, 4)  # timm stages: stem (stride 2), layer1..layer4 (strides 4, 8, 16, 32 undilated)


@BACKBONES.register
class ResNet(BaseBackbone):
    """ResNet feature extractor: ``[B, 3, H, W]`` → ``[B, 2048, H/s, W/s]``.

    With ``out_indices`` it returns a list of stage outputs instead, e.g.
    ``[1, 2, 3, 4]`` → channels ``[256, 512, 1024, 2048]`` at strides
    ``[4, 8, 16, 32]`` (dilated stages keep the stride of the one before).

    Args:
        variant: ``"50"``, ``"101"`` or ``"50_gn"`` (ResNet-50 with GroupNorm, as DeepLabCut's default).
        output_stride: 32 (plain), 16 or 8 (last stages dilated instead of strided).
        pretrained: False, True (timm weights) or a path to a local weights file.
        out_indices: ``None``: one map, the last stage. A list of timm stage
            indices (0 = stem, 1-4 = layer1-layer4): return those stages' maps (multi-scale).
    """

    def __init__(
        self,
        variant: Literal["50", "50_gn", "101"] = "50",
        output_stride: Literal[8, 16, 32] = 32,
        pretrained: bool | str | Path = False,
        out_indices: list[int] | None = None,
    ) -> None:
        super().__init__()
        variant = str(variant)
        if variant not in RESNET_VARIANTS:
            raise ValueError(f"ResNet variant {variant!r} is not one of {sorted(RESNET_VARIANTS)}")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"ResNet output_stride must be 8, 16 or 32, got {output_stride!r}")
        indices = check_out_indices("ResNet", out_indices, RESNET_STAGES)
        self.model = create_timm_features(
            RESNET_VARIANTS[variant], pretrained, out_indices=indices or (4,), output_stride=output_stride
        )
        info = self.model.feature_info
        self.set_features(info.channels(), info.reduction(), multi_scale=indices is not None)

    def forward(self, images: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        features = self.model(images)
        return list(features) if self.multi_scale else features[-1]
