"""RTMCC head (RTMPose): features → per-keypoint SimCC x/y bin scores through a gated attention unit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from lightning_pose_arch.data.types import HeadOutputs
from lightning_pose_arch.models.aggregators.base import BaseAggregator
from lightning_pose_arch.models.codec import DEFAULT_SPLIT_RATIO, SIMCC_CODEC
from lightning_pose_arch.models.criterions.base import BaseCriterion
from lightning_pose_arch.models.heads.base import HEADS, BaseHead, HeadInputs
from lightning_pose_arch.models.heads.gau import GatedAttentionUnit, ScaleNorm
from lightning_pose_arch.models.predictors.base import BasePredictor
from lightning_pose_arch.models.target_generators.base import BaseGenerator
from lightning_pose_arch.registry import ConfigError


@HEADS.register
class RTMCCHead(BaseHead):
    """SimCC coordinate classification with a gated attention unit over keypoint tokens (RTMPose).

    ``forward``: features ``[B, C, h', w']`` → ``final_layer`` conv (C → K,
    ``final_layer_kernel_size``) → flatten ``[B, K, h'·w']`` → ScaleNorm +
    linear ``[B, K, hidden_dims]`` → :class:`GatedAttentionUnit` →
    two linear classifiers → ``{"x": [B, K, W·r], "y": [B, K, H·r]}``:
    one score per bin, r = ``simcc_split_ratio`` bins per input pixel of the
    H×W input. Train with ``SimCCGenerator`` + ``KLDiscreteLoss`` (one
    criterion for both axes, or ``{"x": ..., "y": ...}``), decode with
    ``SimCCPredictor``. The head, generator and predictor share one split
    ratio: set it in any of them (or several, equal) and the others take it;
    unset everywhere, 2.

    The head's stride (``PoseModel.head_strides``) is ``1 / r`` input pixels
    per bin: ``upsampling = feature stride · r``.

    Sizes filled by :meth:`fill_sizes` when unset: ``in_channels`` (from the
    backbone/neck), ``num_keypoints`` (from the data), ``input_size`` (the
    data's ``image_size``) and ``in_featuremap_size`` (``input_size`` / the
    feature stride, rounded up).

    Args:
        predictor: e.g. ``SimCCPredictor``.
        target_generator: e.g. ``SimCCGenerator``.
        criterion: e.g. ``KLDiscreteLoss``, or ``{"x": ..., "y": ...}``.
        in_channels: C, feature channels.
        num_keypoints: K.
        input_size: (H, W) of the network input, in pixels.
        in_featuremap_size: (h', w') of the features.
        aggregator: Combines the ``x`` and ``y`` loss terms; ``None`` sums them.
        simcc_split_ratio: r, bins per input pixel (``None``: the generator's or predictor's; default 2).
        final_layer_kernel_size: Kernel of the first conv (odd).
        hidden_dims: Token size of the keypoint tokens.
        gau_attention_dims: s, the GAU's query/key size.
        gau_expansion_factor: The GAU's value size / ``hidden_dims``.
        gau_dropout: Dropout on the GAU's attention weights.
        gau_drop_path: Stochastic depth of the GAU branch.

    Example:
        >>> head = HEADS.build(dict(type="RTMCCHead", predictor=dict(type="SimCCPredictor"),
        ...     target_generator=dict(type="SimCCGenerator"), criterion=dict(type="KLDiscreteLoss"),
        ...     in_channels=512, num_keypoints=17, input_size=(256, 192), in_featuremap_size=(8, 6)))
        >>> {k: tuple(v.shape) for k, v in head(torch.zeros(2, 512, 8, 6)).items()}
        {'x': (2, 17, 384), 'y': (2, 17, 512)}
    """

    codec_parameters = SIMCC_CODEC
    fixed_input_size = True

    def __init__(
        self,
        predictor: BasePredictor,
        target_generator: BaseGenerator,
        criterion: BaseCriterion | dict[str, BaseCriterion],
        in_channels: int,
        num_keypoints: int,
        input_size: Sequence[int],
        in_featuremap_size: Sequence[int],
        aggregator: BaseAggregator | None = None,
        simcc_split_ratio: float | None = None,
        final_layer_kernel_size: int = 7,
        hidden_dims: int = 256,
        gau_attention_dims: int = 128,
        gau_expansion_factor: float = 2.0,
        gau_dropout: float = 0.0,
        gau_drop_path: float = 0.0,
    ) -> None:
        if simcc_split_ratio is not None and simcc_split_ratio <= 0:
            raise ValueError(f"RTMCCHead simcc_split_ratio must be > 0, got {simcc_split_ratio}")
        super().__init__(predictor, target_generator, criterion, aggregator,
                         head_codec={"split_ratio": ("simcc_split_ratio", simcc_split_ratio)})
        self.input_size = _size_pair(input_size, "input_size")
        self.in_featuremap_size = _size_pair(in_featuremap_size, "in_featuremap_size")
        self.simcc_split_ratio = float(self.codec["split_ratio"] or DEFAULT_SPLIT_RATIO)
        self._check_arguments(in_channels, num_keypoints, final_layer_kernel_size, hidden_dims)
        self.in_channels = in_channels
        self.num_keypoints = num_keypoints
        self.num_bins = tuple(_bins(side, self.simcc_split_ratio) for side in self.input_size)  # (H·r, W·r)
        self.upsampling = self.input_size[1] / self.in_featuremap_size[1] * self.simcc_split_ratio
        flat = self.in_featuremap_size[0] * self.in_featuremap_size[1]
        self.final_layer = nn.Conv2d(in_channels, num_keypoints, final_layer_kernel_size,
                                     padding=final_layer_kernel_size // 2)
        self.mlp = nn.Sequential(ScaleNorm(flat), nn.Linear(flat, hidden_dims, bias=False))
        self.gau = GatedAttentionUnit(hidden_dims, attention_dims=gau_attention_dims,
                                      expansion_factor=gau_expansion_factor, dropout=gau_dropout, drop_path=gau_drop_path)
        self.cls_x = nn.Linear(hidden_dims, self.num_bins[1], bias=False)
        self.cls_y = nn.Linear(hidden_dims, self.num_bins[0], bias=False)
        self._init_weights()

    def _check_arguments(self, in_channels: int, num_keypoints: int, kernel: int, hidden_dims: int) -> None:
        if min(in_channels, num_keypoints, hidden_dims, *self.input_size, *self.in_featuremap_size) <= 0:
            raise ValueError(f"RTMCCHead sizes must be positive, got in_channels={in_channels}, num_keypoints="
                             f"{num_keypoints}, hidden_dims={hidden_dims}, input_size={self.input_size}, "
                             f"in_featuremap_size={self.in_featuremap_size}")
        if kernel <= 0 or kernel % 2 == 0:
            raise ValueError(f"RTMCCHead final_layer_kernel_size must be odd and positive, got {kernel}")

    def _init_weights(self) -> None:
        # RTMPose's init: conv N(0, 0.001), linear N(0, 0.01), biases 0 (GAU γ, β stay U(0, 1)).
        for layer in (self.final_layer, self.mlp, self.gau, self.cls_x, self.cls_y):
            for module in layer.modules():
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    nn.init.normal_(module.weight, std=0.001 if isinstance(module, nn.Conv2d) else 0.01)
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, in_featuremap_size={self.in_featuremap_size}, "
                f"simcc_split_ratio={self.simcc_split_ratio}, {super().extra_repr()}")

    @classmethod
    def fill_from(cls, cfg: dict[str, Any], inputs: HeadInputs) -> dict[str, Any]:
        cfg.setdefault("in_channels", inputs.in_channels)
        if inputs.num_keypoints is not None:
            cfg.setdefault("num_keypoints", inputs.num_keypoints)
        if inputs.image_size is not None:
            cfg.setdefault("input_size", [int(side) for side in inputs.image_size])
        if "input_size" not in cfg:
            raise ConfigError("RTMCCHead needs input_size [H, W]: set it in the head config, or build the model "
                              "with the data's image size (PoseModel.from_config(..., image_size=...))")
        if inputs.in_stride is not None:
            cfg.setdefault("in_featuremap_size", [math.ceil(side / inputs.in_stride) for side in cfg["input_size"]])
        return cfg

    def forward(self, features: torch.Tensor) -> HeadOutputs:
        if not torch.jit.is_tracing() and tuple(features.shape[-2:]) != self.in_featuremap_size:
            raise ValueError(f"RTMCCHead was built for {self.in_featuremap_size[0]}×{self.in_featuremap_size[1]} "
                             f"features (input_size {self.input_size}), got {tuple(features.shape[-2:])}: "
                             "the input image size must match the head's input_size")
        tokens = self.gau(self.mlp(self.final_layer(features).flatten(2)))  # [B, K, hidden_dims]
        return {"x": self.cls_x(tokens), "y": self.cls_y(tokens)}


def _size_pair(size: Sequence[int], name: str) -> tuple[int, int]:
    if len(size) != 2:
        raise ValueError(f"RTMCCHead {name} must be (height, width), got {size!r}")
    return int(size[0]), int(size[1])


def _bins(side: int, split_ratio: float) -> int:
    bins = side * split_ratio
    if abs(bins - round(bins)) > 1e-6:
        raise ValueError(f"RTMCCHead: input side {side} × simcc_split_ratio {split_ratio} "
                         "must be a whole number of bins")
    return int(round(bins))
