"""Feature pyramid network neck: multi-scale backbone maps → one map at a chosen stride."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lightning_pose_arch.models.necks.base import NECKS, BaseNeck
from lightning_pose_arch.registry import ConfigError


@NECKS.register
class FPN(BaseNeck):
    """Top-down feature pyramid (Lin et al. 2017) that outputs its finest level.

    ``forward``: a list of L maps, map ``i`` being
    ``[B, in_channels[i], H / in_strides[i], W / in_strides[i]]`` (fine to
    coarse, as a backbone with ``out_indices`` returns them) →
    ``[B, out_channels, H / output_stride, W / output_stride]``.

    Each map gets a lateral 1×1 conv to ``out_channels``; starting from the
    coarsest, the running sum is upsampled (nearest) to the next finer map and
    added to its lateral; the finest sum is upsampled bilinearly when
    ``output_stride`` is finer than the finest input, then smoothed by a 3×3
    conv.

    Args:
        in_channels: Channels of each input map (filled from the backbone).
        in_strides: Stride of each input map (filled from the backbone).
        out_channels: Channels of the output map.
        output_stride: Stride of the output; ``None``: the finest input
            stride. It may be finer than the finest input by an integer factor,
            never coarser (that input would be unused: drop it from the
            backbone's ``out_indices`` instead).

    Example:
        >>> fpn = NECKS.build(dict(type="FPN", in_channels=[18, 36, 72, 144], in_strides=[4, 8, 16, 32]))
        >>> maps = [torch.zeros(2, c, 64 // s, 64 // s) for c, s in zip([18, 36, 72, 144], [4, 8, 16, 32])]
        >>> tuple(fpn(maps).shape), fpn.stride
        ((2, 256, 16, 16), 4)
    """

    def __init__(
        self,
        in_channels: list[int],
        in_strides: list[int],
        out_channels: int = 256,
        output_stride: int | None = None,
    ) -> None:
        super().__init__()
        self.in_channels, self.in_strides = _check_levels(in_channels, in_strides)
        if out_channels <= 0:
            raise ValueError(f"FPN out_channels must be positive, got {out_channels}")
        finest = self.in_strides[0]
        output_stride = finest if output_stride is None else output_stride
        if output_stride <= 0 or output_stride > finest or finest % output_stride:
            raise ConfigError(
                f"FPN output_stride {output_stride} must divide its finest input stride {finest} (input strides "
                f"{self.in_strides}); a coarser output would leave the finer inputs unused: drop them from the "
                "backbone's out_indices instead"
            )
        self.out_channels = out_channels
        self.stride = output_stride
        self.upsampling = finest // output_stride
        self.lateral = nn.ModuleList(nn.Conv2d(c, out_channels, kernel_size=1) for c in self.in_channels)
        self.smooth = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        if isinstance(features, torch.Tensor) or len(features) != len(self.lateral):
            got = "one map" if isinstance(features, torch.Tensor) else f"{len(features)} maps"
            raise ValueError(f"FPN expects a list of {len(self.lateral)} maps (channels {self.in_channels}), got {got}")
        merged = self.lateral[-1](features[-1])
        for feature, lateral in zip(reversed(features[:-1]), reversed(self.lateral[:-1])):
            lateral_map = lateral(feature)
            merged = lateral_map + F.interpolate(merged, size=lateral_map.shape[-2:], mode="nearest")
        if self.upsampling > 1:
            merged = F.interpolate(merged, scale_factor=self.upsampling, mode="bilinear", align_corners=False)
        return self.smooth(merged)

    @classmethod
    def fill_sizes(
        cls,
        cfg: dict[str, Any],
        in_channels: int | list[int],
        in_strides: int | list[int],
        num_keypoints: int | None,
    ) -> dict[str, Any]:
        _check_levels(in_channels, in_strides)  # explain a single-map backbone before the type check does
        return super().fill_sizes(cfg, in_channels, in_strides, num_keypoints)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, in_strides={self.in_strides}, out_channels={self.out_channels}, stride={self.stride}"


def _check_levels(in_channels: list[int] | int, in_strides: list[int] | int) -> tuple[list[int], list[int]]:
    """Validated copies of the per-level channels and strides (fine to coarse)."""
    if not isinstance(in_channels, (list, tuple)) or not isinstance(in_strides, (list, tuple)):
        raise ConfigError(
            f"FPN needs multi-scale features (a list of maps), got one map with {in_channels} channels at stride "
            f"{in_strides}: give the backbone out_indices (e.g. out_indices: [1, 2, 3, 4]; HRNet also fuse_branches: false)"
        )
    channels, strides = [int(c) for c in in_channels], [int(s) for s in in_strides]
    if not channels or len(channels) != len(strides):
        raise ConfigError(f"FPN in_channels {channels} and in_strides {strides} must be non-empty and of equal length")
    if min(channels) <= 0 or min(strides) <= 0 or strides != sorted(strides):
        raise ConfigError(f"FPN input levels must be ordered fine to coarse with positive sizes, "
                          f"got in_channels {channels}, in_strides {strides}")
    return channels, strides
