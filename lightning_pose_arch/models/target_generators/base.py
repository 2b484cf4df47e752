"""Target generator contract: labels → training targets."""

from __future__ import annotations

import torch

from lightning_pose_arch.data.types import HeadOutputs, HeadTargets
from lightning_pose_arch.registry import Registry


class BaseGenerator:
    """Turn labels into one head's training targets.

    ``__call__(keypoints, outputs, stride)`` takes ``keypoints [B, N, K, 3]``
    (x, y, visibility in input-image pixels), the head's outputs (for their
    shapes and device) and the head's stride, and returns
    ``{output_name: {"target": Tensor, "weights": Tensor}}``. Batched torch on
    the outputs' device; a keypoint with visibility 0 gets zero target and
    zero weight.
    """

    def __call__(self, keypoints: torch.Tensor, outputs: HeadOutputs, stride: float) -> HeadTargets:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))  # _: bookkeeping
        return f"{type(self).__name__}({fields})"


TARGET_GENERATORS: Registry[BaseGenerator] = Registry("TARGET_GENERATORS", BaseGenerator)
