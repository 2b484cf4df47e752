"""DEKR head: keypoint + center heatmaps and per-keypoint offset regression (Geng et al. 2021)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lightning_pose_arch.data.types import HeadOutputs
from lightning_pose_arch.models.aggregators.base import BaseAggregator
from lightning_pose_arch.models.criterions.base import BaseCriterion
from lightning_pose_arch.models.criterions.weighted import WeightedHuberCriterion, WeightedMSECriterion
from lightning_pose_arch.models.heads.base import HEADS, BaseHead, HeadInputs
from lightning_pose_arch.models.heads.heatmap import DeconvStack
from lightning_pose_arch.models.predictors.base import BasePredictor
from lightning_pose_arch.models.target_generators.base import BaseGenerator


class BasicBlock(nn.Module):
    """Residual block of two 3×3 conv + BN, optionally grouped; ``[B, C, h, w]`` → same shape."""

    def __init__(self, channels: int, groups: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=groups, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, groups=groups, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.body(x))


def transition(in_channels: int, out_channels: int) -> list[nn.Module]:
    """1×1 conv + BN + ReLU: a branch's own features."""
    return [nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


@HEADS.register
class DEKRHead(BaseHead):
    """Bottom-up multi-animal head: keypoint and center heatmaps, and disentangled offsets.

    ``forward``: features ``[B, C, h', w']`` → ``{"heatmap": [B, K+1, h, w],
    "offset": [B, 2K, h, w]}`` with ``h = h' · 2^num_deconv_layers``. Heatmap
    channels ``0…K-1`` are the keypoints, channel ``K`` the individuals'
    centers; offsets are interleaved (x of keypoint k at ``2k``, y at
    ``2k+1``), from each cell to the keypoint, in grid cells (input pixels /
    stride). See :class:`~lightning_pose_arch.models.target_generators.dekr.DEKRGenerator`
    and :class:`~lightning_pose_arch.models.predictors.dekr.DEKRPredictor`.

    Layers (DEKR's): optional upsampling (a :class:`DeconvStack` whose last
    1×1 conv gives ``deconv_channels`` features), then a heatmap branch
    (1×1 conv/BN/ReLU to ``heatmap_channels``, a residual block, 1×1 conv to
    K+1) and an offset branch whose features are disentangled per keypoint:
    1×1 conv/BN/ReLU to ``K · num_offset_channels_per_keypoint``, then convs
    grouped by keypoint (a residual block, and a 1×1 conv to 2 channels per
    keypoint), so each keypoint's offsets come from its own channels. DEKR's
    adaptive (deformable) convs are replaced by plain grouped 3×3 convs. The
    final convs start near zero (std 0.001), as in :class:`HeatmapHead`.
    With the default criteria the offset term (Huber on offsets of several
    cells) starts two orders of magnitude above the heatmap term (MSE over mostly-zero maps);
    DEKR down-weights it, which a ``WeightedLossAggregator`` can do.

    Args:
        predictor: e.g. ``DEKRPredictor``.
        target_generator: e.g. ``DEKRGenerator`` (its ``num_keypoints`` must be K).
        in_channels: C, feature channels in.
        num_keypoints: K.
        criterion: ``{"heatmap": ..., "offset": ...}`` or one for both; ``None``:
            ``WeightedMSECriterion`` for heatmaps, ``WeightedHuberCriterion`` for offsets.
        aggregator: Combines the loss terms (``None`` sums them).
        num_deconv_layers: Upsampling by 2 per layer (0: none), for coarse (stride 32) backbones.
        deconv_channels: Channels of the upsampling layers.
        heatmap_channels: Channels of the heatmap branch (DEKR: 32).
        num_offset_channels_per_keypoint: Offset-branch channels per keypoint (DEKR: 15).

    Example:
        >>> head = HEADS.build(dict(type="DEKRHead", in_channels=32, num_keypoints=5,
        ...     predictor=dict(type="DEKRPredictor"), target_generator=dict(type="DEKRGenerator", num_keypoints=5)))
        >>> {k: tuple(v.shape) for k, v in head(torch.zeros(2, 32, 16, 16)).items()}
        {'heatmap': (2, 6, 16, 16), 'offset': (2, 10, 16, 16)}
    """

    def __init__(
        self,
        predictor: BasePredictor,
        target_generator: BaseGenerator,
        in_channels: int,
        num_keypoints: int,
        criterion: BaseCriterion | dict[str, BaseCriterion] | None = None,
        aggregator: BaseAggregator | None = None,
        num_deconv_layers: int = 0,
        deconv_channels: int = 256,
        heatmap_channels: int = 32,
        num_offset_channels_per_keypoint: int = 15,
    ) -> None:
        if min(in_channels, num_keypoints, deconv_channels, heatmap_channels, num_offset_channels_per_keypoint) <= 0:
            raise ValueError("DEKRHead in_channels, num_keypoints, deconv_channels, heatmap_channels and "
                             "num_offset_channels_per_keypoint must be > 0, got "
                             f"{in_channels}, {num_keypoints}, {deconv_channels}, {heatmap_channels} and "
                             f"{num_offset_channels_per_keypoint}")
        if num_deconv_layers < 0:
            raise ValueError(f"DEKRHead num_deconv_layers must be >= 0, got {num_deconv_layers}")
        if getattr(target_generator, "num_keypoints", num_keypoints) != num_keypoints:
            raise ValueError(f"DEKRHead num_keypoints ({num_keypoints}) and target_generator.num_keypoints "
                             f"({target_generator.num_keypoints}) must agree")
        if criterion is None:
            criterion = {"heatmap": WeightedMSECriterion(), "offset": WeightedHuberCriterion()}
        super().__init__(predictor, target_generator, criterion, aggregator)
        self.in_channels = in_channels
        self.num_keypoints = num_keypoints
        self.upsampling = 2**num_deconv_layers
        self.upsample: nn.Module = nn.Identity()
        if num_deconv_layers > 0:
            self.upsample = DeconvStack(num_input_channels=in_channels, num_output_channels=deconv_channels,
                                        num_deconv_layers=num_deconv_layers, deconv_channels=deconv_channels)
            in_channels = deconv_channels
        offset_channels = num_keypoints * num_offset_channels_per_keypoint
        self.heatmap_branch = nn.Sequential(
            *transition(in_channels, heatmap_channels),
            BasicBlock(heatmap_channels),
            nn.Conv2d(heatmap_channels, num_keypoints + 1, 1),
        )
        self.offset_transition = nn.Sequential(*transition(in_channels, offset_channels))
        self.offset_branch = nn.Sequential(
            BasicBlock(offset_channels, groups=num_keypoints),
            nn.Conv2d(offset_channels, 2 * num_keypoints, 1, groups=num_keypoints),
        )
        for final in (self.heatmap_branch[-1], self.offset_branch[-1]):
            nn.init.normal_(final.weight, std=0.001)  # near-zero maps at the start, as HeatmapHead
            nn.init.zeros_(final.bias)

    @classmethod
    def fill_from(cls, cfg: dict[str, Any], inputs: HeadInputs) -> dict[str, Any]:
        cfg.setdefault("in_channels", inputs.in_channels)
        if inputs.num_keypoints is None:
            return cfg
        cfg.setdefault("num_keypoints", inputs.num_keypoints)
        if isinstance(cfg.get("target_generator"), dict):
            cfg["target_generator"].setdefault("num_keypoints", inputs.num_keypoints)
        return cfg

    def forward(self, features: torch.Tensor) -> HeadOutputs:
        features = self.upsample(features)
        return {
            "heatmap": self.heatmap_branch(features),
            "offset": self.offset_branch(self.offset_transition(features)),
        }
