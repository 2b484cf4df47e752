"""Heatmap head: deconvolution stack + final conv, with an optional location-refinement branch."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lightning_pose_arch.data.types import HeadOutputs
from lightning_pose_arch.models.aggregators.base import BaseAggregator
from lightning_pose_arch.models.codec import HEATMAP_CODEC
from lightning_pose_arch.models.criterions.base import BaseCriterion
from lightning_pose_arch.models.heads.base import HEADS, BaseHead, HeadInputs
from lightning_pose_arch.models.predictors.base import BasePredictor
from lightning_pose_arch.models.target_generators.base import BaseGenerator
from lightning_pose_arch.registry import check_keys


class DeconvStack(nn.Sequential):
    """``num_deconv_layers`` × (2× transposed conv, BN, ReLU), then a ``final_conv_kernel`` conv.

    ``[B, num_input_channels, h, w]`` → ``[B, num_output_channels, h·2^L, w·2^L]``.

    Args:
        num_input_channels: Feature channels in.
        num_output_channels: Maps out (K heatmaps, or 2K locref maps).
        num_deconv_layers: L, each doubling the resolution (0: final conv only).
        deconv_channels: Channels of the deconv layers.
        final_conv_kernel: Kernel of the last conv (1 or 3).
    """

    def __init__(
        self,
        num_input_channels: int,
        num_output_channels: int,
        num_deconv_layers: int = 1,
        deconv_channels: int = 256,
        final_conv_kernel: int = 1,
    ) -> None:
        if min(num_input_channels, num_output_channels, deconv_channels) <= 0 or num_deconv_layers < 0:
            raise ValueError(f"heatmap_config channels must be positive and num_deconv_layers >= 0, got "
                             f"num_input_channels={num_input_channels}, num_output_channels={num_output_channels}, "
                             f"deconv_channels={deconv_channels}, num_deconv_layers={num_deconv_layers}")
        if final_conv_kernel not in (1, 3):
            raise ValueError(f"heatmap_config final_conv_kernel must be 1 or 3, got {final_conv_kernel}")
        layers: list[nn.Module] = []
        channels = num_input_channels
        for _ in range(num_deconv_layers):
            layers += [
                nn.ConvTranspose2d(channels, deconv_channels, kernel_size=4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(deconv_channels),
                nn.ReLU(inplace=True),
            ]
            channels = deconv_channels
        layers.append(nn.Conv2d(channels, num_output_channels, final_conv_kernel, padding=final_conv_kernel // 2))
        super().__init__(*layers)
        self.num_input_channels = num_input_channels
        self.upsampling = 2**num_deconv_layers
        self._init_weights()

    def trunk(self, features: torch.Tensor) -> torch.Tensor:
        """The deconvolutions without the final conv: ``[B, C, h, w]`` → ``[B, deconv_channels, h·2^L, w·2^L]``."""
        for layer in list(self)[:-1]:  # not self[:-1]: slicing rebuilds a DeconvStack through __init__
            features = layer(features)
        return features

    def _init_weights(self) -> None:
        # SimpleBaselines' init: near-zero maps at the start, so early steps learn where keypoints
        # are instead of first shrinking large random outputs toward the mostly-zero targets.
        for module in self.modules():
            if isinstance(module, (nn.ConvTranspose2d, nn.Conv2d)):
                nn.init.normal_(module.weight, std=0.001)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)


@HEADS.register
class HeatmapHead(BaseHead):
    """Keypoint heatmaps and, optionally, location-refinement (locref) maps.

    ``forward``: features ``[B, C, h', w']`` → ``{"heatmap": [B, K, h, w]}``
    plus ``"locref": [B, 2K, h, w]`` (interleaved x/y offsets) when the
    predictor uses location refinement; ``h = h' · 2^num_deconv_layers``.

    The generator and predictor share ``locref_std`` and whether locref is
    used (``generate_locref`` / ``location_refinement``): set each on either
    part (or both, equal) and the other takes it; unset on both, the
    defaults (7.2801, True).

    Args:
        predictor: e.g. ``HeatmapPredictor``; location refinement adds the locref branch.
        target_generator: e.g. ``HeatmapGaussianGenerator``.
        criterion: One criterion for both outputs, or ``{"heatmap": ..., "locref": ...}``.
        aggregator: Combines loss terms (e.g. ``WeightedLossAggregator``); ``None`` sums them.
        heatmap_config: :class:`DeconvStack` arguments for the heatmap branch.
        share_deconvs: The locref maps (and a subclass's other maps) are one conv on the heatmap
            branch's last deconvolution output instead of a deconvolution stack of their own:
            about half the head's cost (DeepLabCut and SimpleBaselines give each output its own stack).
        locref_config: :class:`DeconvStack` arguments for the locref branch
            (default: ``heatmap_config`` with ``num_output_channels = 2K``).

    Example:
        >>> head = HEADS.build(dict(type="HeatmapHead",
        ...     predictor=dict(type="HeatmapPredictor"),
        ...     target_generator=dict(type="HeatmapGaussianGenerator", num_heatmaps=17),
        ...     criterion=dict(type="WeightedMSECriterion"),
        ...     heatmap_config=dict(num_input_channels=256, num_output_channels=17)))
        >>> {k: tuple(v.shape) for k, v in head(torch.zeros(2, 256, 16, 16)).items()}
        {'heatmap': (2, 17, 32, 32), 'locref': (2, 34, 32, 32)}
    """

    codec_parameters = HEATMAP_CODEC
    sibling_outputs: tuple[str, ...] = ("locref",)  # outputs besides the heatmap, each from its ``<name>_branch``

    def __init__(
        self,
        predictor: BasePredictor,
        target_generator: BaseGenerator,
        criterion: BaseCriterion | dict[str, BaseCriterion],
        heatmap_config: dict[str, int],
        aggregator: BaseAggregator | None = None,
        locref_config: dict[str, int] | None = None,
        share_deconvs: bool = False,
    ) -> None:
        super().__init__(predictor, target_generator, criterion, aggregator)
        check_keys(DeconvStack, heatmap_config, where="HeatmapHead heatmap_config")
        self.share_deconvs = share_deconvs
        self.heatmap_branch = DeconvStack(**heatmap_config)
        self.in_channels = self.heatmap_branch.num_input_channels
        self.upsampling = self.heatmap_branch.upsampling
        self.locref_branch = self._locref_branch(heatmap_config, locref_config)

    def _locref_branch(self, heatmap_config: dict[str, int], locref_config: dict[str, int] | None) -> DeconvStack | None:
        if not self.codec["location_refinement"]:
            return None
        return self._sibling_branch("locref", heatmap_config, locref_config, 2 * heatmap_config["num_output_channels"])

    def _sibling_branch(
        self, name: str, heatmap_config: dict[str, int], config: dict[str, int] | None, num_output_channels: int
    ) -> DeconvStack:
        """Branch ``name`` from ``config`` (default: ``heatmap_config`` with ``num_output_channels`` maps).

        It must take the heatmap branch's input channels and keep its upsampling.
        """
        if self.share_deconvs:
            if config is not None:
                raise ValueError(f"{type(self).__name__} {name}_config cannot be set with share_deconvs: the {name} "
                                 "maps are one conv on the heatmap branch's deconvolutions")
            trunk = self.heatmap_branch[-1]
            return DeconvStack(trunk.in_channels, num_output_channels, num_deconv_layers=0,
                               final_conv_kernel=trunk.kernel_size[0])
        config = config or {**heatmap_config, "num_output_channels": num_output_channels}
        check_keys(DeconvStack, config, where=f"{type(self).__name__} {name}_config")
        branch = DeconvStack(**config)
        if branch.upsampling != self.upsampling or branch.num_input_channels != self.in_channels:
            raise ValueError(f"{type(self).__name__} {name}_config must keep the heatmap branch's input channels and "
                             f"num_deconv_layers, got {config} vs {heatmap_config}")
        return branch

    @classmethod
    def fill_from(cls, cfg: dict[str, Any], inputs: HeadInputs) -> dict[str, Any]:
        heatmap_config = cfg.setdefault("heatmap_config", {})
        heatmap_config.setdefault("num_input_channels", inputs.in_channels)
        if inputs.num_keypoints is None:
            return cfg
        heatmap_config.setdefault("num_output_channels", inputs.num_keypoints)
        if isinstance(cfg.get("target_generator"), dict):
            cfg["target_generator"].setdefault("num_heatmaps", inputs.num_keypoints)
        return cfg

    def forward(self, features: torch.Tensor) -> HeadOutputs:
        if self.share_deconvs:
            sibling_input = self.heatmap_branch.trunk(features)
            outputs = {"heatmap": self.heatmap_branch[-1](sibling_input)}
        else:
            sibling_input, outputs = features, {"heatmap": self.heatmap_branch(features)}
        for name in self.sibling_outputs:
            branch = getattr(self, f"{name}_branch")
            if branch is not None:
                outputs[name] = branch(sibling_input)
        return outputs
