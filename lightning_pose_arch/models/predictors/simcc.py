"""SimCC decoding: argmax bin per axis → keypoints.

Inverse of :mod:`lightning_pose_arch.models.target_generators.simcc`; both map
bins ↔ image with :func:`lightning_pose_arch.models.grid.simcc_bin_to_image`.
"""

from __future__ import annotations

import torch

from lightning_pose_arch.data.types import HeadOutputs, Prediction
from lightning_pose_arch.models.codec import DEFAULT_SPLIT_RATIO, given_names
from lightning_pose_arch.models.grid import simcc_bin_to_image
from lightning_pose_arch.models.predictors.base import PREDICTORS, BasePredictor


@PREDICTORS.register
class SimCCPredictor(BasePredictor):
    """Single-individual SimCC decoder.

    Takes ``{"x": [B, K, W·r], "y": [B, K, H·r]}`` (one score per bin and axis)
    and returns ``{"keypoints": [B, 1, K, 3]}``: x = argmax bin along x / r,
    y likewise, in input-image pixels; score = the smaller of the two axes'
    maxima (MMPose's ``get_simcc_maximum``), a probability with
    ``apply_softmax``, else the raw maximum clamped to [0, 1]. Batched,
    loop-free and ONNX-exportable (argmax, max, softmax). The stride argument
    is ignored: bins come from ``split_ratio`` (the head's ``simcc_split_ratio``).

    Args:
        split_ratio: Bins per input pixel (r); ``None``: the head's codec value (the
            generator's or the head's ``simcc_split_ratio``; default 2).
        apply_softmax: Scores are softmax probabilities over each axis's bins
            (small for wide distributions: the peak of a σ-pixel Gaussian is about
            ``1 / (σ · r · 2.5)``); else raw outputs, which a model trained
            with ``KLDiscreteLoss(label_softmax=True)`` on peak-1 targets drives toward 1.
    """

    def __init__(self, split_ratio: float | None = None, apply_softmax: bool = False) -> None:
        if split_ratio is not None and split_ratio <= 0:
            raise ValueError(f"SimCCPredictor split_ratio must be > 0, got {split_ratio}")
        self._codec_given = given_names(split_ratio=split_ratio)
        self.split_ratio = float(DEFAULT_SPLIT_RATIO if split_ratio is None else split_ratio)
        self.apply_softmax = apply_softmax

    def __call__(self, outputs: HeadOutputs, stride: float) -> Prediction:
        """Keypoints from ``outputs``; ``stride`` is ignored (see the class docstring)."""
        x, score_x = self._decode_axis(outputs["x"])
        y, score_y = self._decode_axis(outputs["y"])
        scores = torch.minimum(score_x, score_y)
        if not self.apply_softmax:
            scores = scores.clamp(0.0, 1.0)
        return {"keypoints": torch.stack([x, y, scores], dim=-1)[:, None]}

    def _decode_axis(self, simcc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, K, bins]`` → (coordinate ``[B, K]`` in input pixels, maximum ``[B, K]``)."""
        if self.apply_softmax:
            simcc = simcc.softmax(dim=-1)
        scores, index = simcc.max(dim=-1)
        return simcc_bin_to_image(index.to(simcc.dtype), self.split_ratio), scores
