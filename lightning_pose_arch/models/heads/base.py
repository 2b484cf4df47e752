"""Head contract: features → outputs, plus the four parts that train and decode them."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from lightning_pose_arch.data.types import HeadOutputs, HeadTargets, Prediction
from lightning_pose_arch.models.aggregators.base import BaseAggregator
from lightning_pose_arch.models.codec import SharedParameter, pair_codec
from lightning_pose_arch.models.criterions.base import BaseCriterion
from lightning_pose_arch.models.predictors.base import BasePredictor
from lightning_pose_arch.models.target_generators.base import BaseGenerator
from lightning_pose_arch.registry import Registry


@dataclass(frozen=True)
class HeadInputs:
    """What the features and the data decide about a head (see :meth:`BaseHead.fill_sizes`)."""

    in_channels: int
    num_keypoints: int | None
    image_size: Sequence[int] | None
    in_stride: float | None
    skeleton: Sequence[tuple[int, int]] | None


class BaseHead(nn.Module):
    """Features ``[B, C, h', w']`` → ``dict[str, Tensor]`` outputs.

    A head carries its target generator (labels → targets), criterion (one
    per output, or one for all), aggregator (loss terms → one loss; ``None``
    sums them) and predictor (outputs → keypoints). Subclasses set
    ``in_channels`` and ``upsampling`` (output grid cells per input cell), so
    the head's stride is ``feature stride / upsampling`` (input pixels per
    output cell; for SimCC heads, per bin).

    The generator and predictor are a codec pair: both get the head's
    stride at every call, and the parameters in ``codec_parameters`` are
    paired when the head is built (:func:`~lightning_pose_arch.models.codec.pair_codec`:
    one explicit value, given to both; two that differ are refused). The
    shared values end up in ``codec``.

    Args:
        predictor: Decodes outputs into keypoints.
        target_generator: Encodes keypoints into targets.
        criterion: One criterion for every output, or ``{output_name: criterion}``.
        aggregator: Combines the loss terms; ``None`` sums them.
        head_codec: The head's own codec arguments, ``{shared name: (argument, value or None)}``.
    """

    in_channels: int
    upsampling: float = 1
    codec_parameters: ClassVar[dict[str, SharedParameter]] = {}
    # Layers sized for one input size (e.g. RTMCC's flattened features): no whole-frame inference at other sizes.
    fixed_input_size: ClassVar[bool] = False

    def __init__(
        self,
        predictor: BasePredictor,
        target_generator: BaseGenerator,
        criterion: BaseCriterion | dict[str, BaseCriterion],
        aggregator: BaseAggregator | None = None,
        head_codec: dict[str, tuple[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.codec = pair_codec(type(self).__name__, target_generator, predictor, self.codec_parameters, head_codec)
        self.predictor = predictor
        self.target_generator = target_generator
        self.criterion = nn.ModuleDict(criterion) if isinstance(criterion, dict) else criterion
        self.aggregator = aggregator

    def extra_repr(self) -> str:
        return f"predictor={self.predictor!r}, target_generator={self.target_generator!r}, aggregator={self.aggregator!r}"

    @classmethod
    def fill_sizes(
        cls,
        cfg: dict[str, Any],
        in_channels: int,
        num_keypoints: int | None,
        image_size: Sequence[int] | None = None,
        in_stride: float | None = None,
        skeleton: Sequence[tuple[int, int]] | None = None,
    ) -> dict[str, Any]:
        """Copy of ``cfg`` with the sizes the features and the data decide filled in where unset.

        Args:
            cfg: The head's config (not mutated).
            in_channels: Channels of the features the head gets.
            num_keypoints: K, from the data (``None`` if unknown).
            image_size: Network input (H, W), from the data (``None`` if unknown).
            in_stride: Input pixels per feature cell (backbone or neck stride).
            skeleton: Edges ``(k1, k2)`` between keypoint indices, from the data (``None`` if unknown).
        """
        return cls.fill_from(copy.deepcopy(cfg), HeadInputs(in_channels, num_keypoints, image_size, in_stride, skeleton))

    @classmethod
    def fill_from(cls, cfg: dict[str, Any], inputs: HeadInputs) -> dict[str, Any]:
        """Fill the unset sizes of ``cfg`` (a private copy: change it in place) from ``inputs``; return it.

        Heads whose layers depend on the features or the data override this.
        """
        return cfg

    def get_targets(self, keypoints: torch.Tensor, outputs: HeadOutputs, stride: float) -> HeadTargets:
        """Targets for ``outputs`` from ``keypoints [B, N, K, 3]`` (input-image pixels)."""
        return self.target_generator(keypoints, outputs, stride)

    def get_loss(self, outputs: HeadOutputs, targets: HeadTargets) -> dict[str, torch.Tensor]:
        """``{"total": scalar, <output name>: scalar, ...}`` for every output that has a target."""
        losses = {}
        for name, target in targets.items():
            criterion = self.criterion[name] if isinstance(self.criterion, nn.ModuleDict) else self.criterion
            losses[name] = criterion(outputs[name], target["target"], target["weights"])
        total = self.aggregator(losses) if self.aggregator is not None else sum(losses.values())
        return {"total": total, **losses}

    def predict(self, outputs: HeadOutputs, stride: float) -> Prediction:
        """Keypoints ``[B, N, K, 3]`` (x, y, score) in input-image pixels."""
        return self.predictor(outputs, stride)


HEADS: Registry[BaseHead] = Registry("HEADS", BaseHead)
