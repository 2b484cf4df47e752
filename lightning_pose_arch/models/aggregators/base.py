"""Aggregator contract: named loss terms → one loss."""

from __future__ import annotations

import torch

from lightning_pose_arch.registry import Registry


class BaseAggregator:
    """``__call__({name: scalar}) → scalar``."""

    def __call__(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


AGGREGATORS: Registry[BaseAggregator] = Registry("AGGREGATORS", BaseAggregator)
