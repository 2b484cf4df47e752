"""Neck contract: backbone features → refined features for the heads."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from lightning_pose_arch.registry import Registry


class BaseNeck(nn.Module):
    """Backbone features → one map ``[B, out_channels, H/stride, W/stride]`` for the heads.

    A neck takes what the backbone returns: one map ``[B, in_channels, h, w]``
    at ``in_strides`` (``in_channels``, ``in_strides`` ints), or a multi-scale
    list of maps (``in_channels``, ``in_strides`` lists, one entry per map,
    fine to coarse). Subclasses set ``in_channels`` and ``in_strides`` (what
    they accept) and ``out_channels`` and ``stride`` (input-image pixels per
    output cell, what they give), so :class:`PoseModel` can check the
    backbone against the neck and size the heads from the neck.
    """

    in_channels: int | list[int]
    in_strides: int | list[int]
    out_channels: int
    stride: int

    @classmethod
    def fill_sizes(
        cls,
        cfg: dict[str, Any],
        in_channels: int | list[int],
        in_strides: int | list[int],
        num_keypoints: int | None,
    ) -> dict[str, Any]:
        """Copy of ``cfg`` with the sizes the backbone and the data decide filled in where unset.

        ``in_channels`` / ``in_strides`` are the backbone's: ints for a single
        map, lists for a multi-scale backbone.
        """
        cfg = copy.deepcopy(cfg)
        cfg.setdefault("in_channels", copy.copy(in_channels))
        cfg.setdefault("in_strides", copy.copy(in_strides))
        return cfg

    def forward(self, features: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


NECKS: Registry[BaseNeck] = Registry("NECKS", BaseNeck)
