"""Predictor contract: head outputs → keypoints."""

from __future__ import annotations

from lightning_pose_arch.data.types import HeadOutputs, Prediction
from lightning_pose_arch.registry import Registry


class BasePredictor:
    """Decode one head's outputs into keypoints.

    ``__call__(outputs, stride)`` takes the head's output dict and the head's
    stride (input pixels per output cell) and returns
    ``{"keypoints": [B, N, K, 3]}``: x, y, score in input-image pixels.
    Batched torch on the outputs' device.
    """

    def __call__(self, outputs: HeadOutputs, stride: float) -> Prediction:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))  # _: bookkeeping
        return f"{type(self).__name__}({fields})"


PREDICTORS: Registry[BasePredictor] = Registry("PREDICTORS", BasePredictor)
