"""CSPNeXt-S/M/X backbones (timm), the RTMPose family's feature extractor."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from lightning_pose_arch.models.backbones.base import BACKBONES, BaseBackbone, create_timm_features

CSPNEXT_VARIANTS: dict[str, str] = {"s": "cspnext_s", "m": "cspnext_m", "x": "cspnext_x"}


@BACKBONES.register
class CSPNeXt(BaseBackbone):
    """CSPNeXt feature extractor: ``[B, 3, H, W]`` → ``[B, C, H/32, W/32]``.

    ``C`` is 512 (s), 768 (m) or 1280 (x).

    Args:
        variant: Size, ``"s"``, ``"m"`` or ``"x"``.
        pretrained: False, True (timm weights) or a path to a local weights file.
    """

    def __init__(
        self,
        variant: Literal["s", "m", "x"] = "m",
        pretrained: bool | str | Path = False,
    ) -> None:
        super().__init__()
        if variant not in CSPNEXT_VARIANTS:
            raise ValueError(f"CSPNeXt variant {variant!r} is not one of {sorted(CSPNEXT_VARIANTS)}")
        self.model = create_timm_features(CSPNEXT_VARIANTS[variant], pretrained, out_indices=(4,))
        self.stride = 32
        self.out_channels = self.model.feature_info.channels()[-1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)[-1]
