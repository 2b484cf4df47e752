"""Neck contract: backbone features → refined features for the heads."""

from __future__ import annotations

import torch
from torch import nn

from lightning_pose_arch.registry import Registry


class BaseNeck(nn.Module):
    """Feature map ``[B, in_channels, h, w]`` → ``[B, out_channels, H/stride, W/stride]``.

    Subclasses set ``out_channels`` and ``stride`` (input-image pixels per
    output cell) so heads can be sized from them.
    """

    out_channels: int
    stride: int

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


NECKS: Registry[BaseNeck] = Registry("NECKS", BaseNeck)
