"""Differentiable keypoint decoding: head outputs → keypoints a loss can pull on.

The heads' predictors decode with an argmax, which has no gradient. Consistency
losses need one, so each single-animal head family gets a soft decode that
lands where its predictor does for a sharp output: the expectation of the cell
(or bin) centers under a softmax of the outputs. Grid and bin centers come from
:mod:`lightning_pose_arch.models.grid`, the owner of that mapping.
"""

from __future__ import annotations

import torch

from lightning_pose_arch.data.types import HeadOutputs
from lightning_pose_arch.models.grid import cell_centers, simcc_bin_centers
from lightning_pose_arch.models.heads.base import BaseHead
from lightning_pose_arch.models.predictors import HeatmapPredictor, SimCCPredictor
from lightning_pose_arch.registry import ConfigError


def soft_argmax_heatmap(heatmap: torch.Tensor, stride: float, temperature: float,
                        locref: torch.Tensor | None = None, locref_std: float = 1.0) -> torch.Tensor:
    """Expected cell center under ``softmax(temperature · heatmap)`` per keypoint.

    Args:
        heatmap: ``[B, K, h, w]`` (values in [0, 1]; a peak of 1 over a background of 0 with
            temperature 100 weighs the peak cell e^100 times a background cell).
        stride: Input pixels per heatmap cell.
        temperature: Softmax sharpness; large → argmax, small → centroid of the whole map.
        locref: Optional ``[B, 2K, h, w]`` offsets (x/y interleaved), averaged under the same
            weights and scaled by ``locref_std``, as :class:`HeatmapPredictor` does at the argmax.

    Returns:
        ``[B, K, 2]`` (x, y) in input pixels.
    """
    batch, num_kpts, height, width = heatmap.shape
    weights = torch.softmax(temperature * heatmap.flatten(2), dim=-1).reshape(batch, num_kpts, height, width)
    ys, xs = cell_centers(height, width, stride, device=heatmap.device, dtype=heatmap.dtype)
    x = (weights.sum(dim=2) * xs).sum(dim=-1)
    y = (weights.sum(dim=3) * ys).sum(dim=-1)
    if locref is not None:
        offsets = (weights[:, :, None] * locref.reshape(batch, num_kpts, 2, height, width)).sum(dim=(-2, -1))
        x, y = x + offsets[..., 0] * locref_std, y + offsets[..., 1] * locref_std
    return torch.stack([x, y], dim=-1)


def simcc_expectation(simcc_x: torch.Tensor, simcc_y: torch.Tensor, split_ratio: float, beta: float) -> torch.Tensor:
    """Expected bin center under ``softmax(beta · logits)`` per axis (the distribution ``KLDiscreteLoss`` trains).

    Args:
        simcc_x: ``[B, K, W·r]`` x-axis scores.
        simcc_y: ``[B, K, H·r]`` y-axis scores.
        split_ratio: r, bins per input pixel.
        beta: The softmax temperature (``KLDiscreteLoss.beta``).

    Returns:
        ``[B, K, 2]`` (x, y) in input pixels.
    """
    def expectation(scores: torch.Tensor) -> torch.Tensor:
        centers = simcc_bin_centers(scores.shape[-1], split_ratio, device=scores.device, dtype=scores.dtype)
        return (torch.softmax(beta * scores, dim=-1) * centers).sum(dim=-1)

    return torch.stack([expectation(simcc_x), expectation(simcc_y)], dim=-1)


def check_soft_decodable(head: BaseHead, name: str) -> None:
    """Raise :class:`ConfigError` unless ``head`` yields single-animal keypoints :func:`soft_keypoints` can decode."""
    if not isinstance(head.predictor, (HeatmapPredictor, SimCCPredictor)):
        raise ConfigError(f"consistency losses decode single-animal keypoints; head {name!r} has a "
                          f"{type(head.predictor).__name__}. Use a head with a HeatmapPredictor (HeatmapHead) "
                          "or a SimCCPredictor (RTMCCHead)")


def soft_keypoints(head: BaseHead, outputs: HeadOutputs, stride: float, heatmap_temperature: float,
                   simcc_beta: float) -> torch.Tensor:
    """``[B, K, 3]``: differentiable (x, y) in input pixels, and the head predictor's own score (no gradient).

    Heatmap heads: :func:`soft_argmax_heatmap` (with locref when the predictor uses it; on the
    sigmoid of the maps when the predictor applies one). SimCC heads: :func:`simcc_expectation`.
    """
    predictor = head.predictor
    if isinstance(predictor, HeatmapPredictor):
        heatmap = torch.sigmoid(outputs["heatmap"]) if predictor.apply_sigmoid else outputs["heatmap"]
        locref = outputs.get("locref") if predictor.location_refinement else None
        xy = soft_argmax_heatmap(heatmap, stride, heatmap_temperature, locref, predictor.locref_std)
    elif isinstance(predictor, SimCCPredictor):
        xy = simcc_expectation(outputs["x"], outputs["y"], predictor.split_ratio, simcc_beta)
    else:
        raise ConfigError(f"no differentiable decode for {type(predictor).__name__}")
    with torch.no_grad():
        scores = head.predict(outputs, stride)["keypoints"][:, 0, :, 2]
    return torch.cat([xy, scores[..., None]], dim=-1)
