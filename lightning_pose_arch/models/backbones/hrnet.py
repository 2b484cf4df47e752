"""HRNet-W18/W32/W48 backbones (timm) at stride 4."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from lightning_pose_arch.models.backbones.base import BACKBONES, BaseBackbone, check_out_indices, create_timm_features

HRNET_VARIANTS: dict[str, str] = {"w18": "hrnet_w18", "w32": "hrnet_w32", "w48": "hrnet_w48"}
HIGH_RES_STAGE = 1  # timm stage index of the stride-4 branch (stage 0 is the stride-2 stem)
HRNET_BRANCHES = (1, 2, 3, 4)  # timm stage indices of the four branches, strides 4, 8, 16, 32


@BACKBONES.register
class HRNet(BaseBackbone):
    """High-resolution network: ``[B, 3, H, W]`` → ``[B, C, H/4, W/4]``.

    With ``fuse_branches=True`` (HRNetV2 representation) the four branch
    outputs are upsampled to stride 4 and concatenated, so ``C`` is the sum
    of branch widths (w32: 32+64+128+256 = 480); otherwise only the
    high-resolution branch is returned (w32: 32 channels). With
    ``out_indices`` (and ``fuse_branches=False``) the listed branches are
    returned as a list instead, e.g. ``[1, 2, 3, 4]`` → w32 channels
    ``[32, 64, 128, 256]`` at strides ``[4, 8, 16, 32]``.

    Args:
        variant: Width, ``"w18"``, ``"w32"`` or ``"w48"``.
        fuse_branches: Concatenate all branches at stride 4 (one map).
        pretrained: False, True (timm weights) or a path to a local weights file.
        out_indices: ``None``: one map. A list of branches (timm stage indices
            1-4): return their maps unfused (multi-scale); needs ``fuse_branches=False``.
    """

    def __init__(
        self,
        variant: Literal["w18", "w32", "w48"] = "w32",
        fuse_branches: bool = True,
        pretrained: bool | str | Path = False,
        out_indices: list[int] | None = None,
    ) -> None:
        super().__init__()
        if variant not in HRNET_VARIANTS:
            raise ValueError(f"HRNet variant {variant!r} is not one of {sorted(HRNET_VARIANTS)}")
        indices = check_out_indices("HRNet", out_indices, HRNET_BRANCHES)
        if indices is not None and fuse_branches:
            raise ValueError("HRNet: out_indices returns the branches as a list, fuse_branches=True concatenates "
                             "them into one map; set fuse_branches: false to use out_indices")
        if indices is None:
            indices = HRNET_BRANCHES if fuse_branches else (HIGH_RES_STAGE,)
        self.model = create_timm_features(HRNET_VARIANTS[variant], pretrained, feature_location="", out_indices=indices)
        last = self.model.stage4[-1]  # its fusions into branches past the last one returned are unused: drop them
        last.fuse_layers = last.fuse_layers[: max(indices)]
        self.fuse_branches = fuse_branches
        info = self.model.feature_info
        if fuse_branches:
            self.set_features([sum(info.channels())], [info.reduction()[0]], multi_scale=False)
        else:
            self.set_features(info.channels(), info.reduction(), multi_scale=out_indices is not None)

    def forward(self, images: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        branches = self.model(images)
        if self.multi_scale:
            return list(branches)
        if not self.fuse_branches:
            return branches[0]
        size = branches[0].shape[-2:]
        upsampled = [F.interpolate(b, size=size, mode="bilinear", align_corners=False) for b in branches[1:]]
        return torch.cat([branches[0], *upsampled], dim=1)
