"""CSPNeXt-S/M/X backbones (timm), the RTMPose family's feature extractor."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from lightning_pose_arch.models.backbones.base import BACKBONES, BaseBackbone, check_out_indices, create_timm_features

CSPNEXT_VARIANTS: dict[str, str] = {"s": "cspnext_s", "m": "cspnext_m", "x": "cspnext_x"}
CSPNEXT_STAGES = (0, 1, 2, 3, 4)  # timm stages: stem (stride 2), stages 1-4 (strides 4, 8, 16, 32)


@BACKBONES.register
class CSPNeXt(BaseBackbone):
    """CSPNeXt feature extractor: ``[B, 3, H, W]`` → ``[B, C, H/32, W/32]``.

    ``C`` is 512 (s), 768 (m) or 1280 (x). With ``out_indices`` it returns a
    list of stage outputs instead, e.g. ``[2, 3, 4]`` → strides ``[8, 16, 32]``
    (s: channels ``[128, 256, 512]``).

    Args:
        variant: Size, ``"s"``, ``"m"`` or ``"x"``.
        pretrained: False, True (timm weights) or a path to a local weights file.
        out_indices: ``None``: one map, the last stage. A list of timm stage
            indices (0 = stem, 1-4 = stages): return those stages' maps (multi-scale).
    """

    def __init__(
        self,
        variant: Literal["s", "m", "x"] = "m",
        pretrained: bool | str | Path = False,
        out_indices: list[int] | None = None,
    ) -> None:
        super().__init__()
        if variant not in CSPNEXT_VARIANTS:
            raise ValueError(f"CSPNeXt variant {variant!r} is not one of {sorted(CSPNEXT_VARIANTS)}")
        indices = check_out_indices("CSPNeXt", out_indices, CSPNEXT_STAGES)
        self.model = create_timm_features(CSPNEXT_VARIANTS[variant], pretrained, out_indices=indices or (4,))
        info = self.model.feature_info
        self.set_features(info.channels(), info.reduction(), multi_scale=indices is not None)

    def forward(self, images: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        features = self.model(images)
        return list(features) if self.multi_scale else features[-1]
