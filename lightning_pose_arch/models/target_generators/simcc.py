"""SimCC targets: one 1-D Gaussian label distribution per keypoint and axis.

Decoded by :class:`~lightning_pose_arch.models.predictors.simcc.SimCCPredictor`;
both map bins ↔ image with :func:`lightning_pose_arch.models.grid.simcc_bin_centers`
(bin ``i`` is centered at image coordinate ``i / split_ratio``).
"""

from __future__ import annotations

import torch

from lightning_pose_arch.data.types import HeadOutputs, HeadTargets
from lightning_pose_arch.models.codec import DEFAULT_SPLIT_RATIO, given_names
from lightning_pose_arch.models.grid import simcc_bin_centers
from lightning_pose_arch.models.target_generators.base import TARGET_GENERATORS, BaseGenerator


@TARGET_GENERATORS.register
class SimCCGenerator(BaseGenerator):
    """Gaussian SimCC label distributions along x and y (RTMPose / MMPose ``SimCCLabel``).

    Letters: B batch, K keypoints, W·r and H·r bins of an H×W input with split ratio r.

    Takes ``keypoints [B, 1, K, 3]`` in input pixels and the head outputs
    ``{"x": [B, K, W·r], "y": [B, K, H·r]}`` (for their sizes and device) and returns
    ``{"x": {"target": [B, K, W·r], "weights": [B, K, 1]}, "y": {"target":
    [B, K, H·r], "weights": [B, K, 1]}}``. Bin ``i`` holds
    ``exp(-(i/r - x)² / (2σ²))``: σ is in input pixels (σ·r in bins), and the
    keypoint is not rounded to a bin. With ``normalize`` each distribution is
    divided by its sum over bins (sums to 1, for ``KLDiscreteLoss`` without
    ``label_softmax``), else it peaks at 1 (for ``label_softmax``). A keypoint
    with visibility 0 (its coordinates may be NaN), or more than 3σ beyond the
    first or last bin center on either axis (no part of its Gaussian inside,
    as in MMPose), gets a zero target and weight 0. The head's stride
    argument is ignored: bins come from ``split_ratio``, which the head
    pairs with the predictor's and its own ``simcc_split_ratio``.

    One individual only (N = 1); several animals need top-down crops
    (:mod:`lightning_pose_arch.data.topdown`).

    Args:
        sigma: Gaussian σ in input pixels, one value or ``(σ_x, σ_y)``.
        split_ratio: Bins per input pixel (r); ``None``: the head's codec value (default 2).
        normalize: Each distribution sums to 1 (else its peak is 1).
    """

    def __init__(
        self,
        sigma: float | tuple[float, float] = (2.45, 2.83),
        split_ratio: float | None = None,
        normalize: bool = False,
    ) -> None:
        sigmas = (sigma, sigma) if isinstance(sigma, (int, float)) else tuple(sigma)
        if len(sigmas) != 2 or min(sigmas) <= 0:
            raise ValueError(f"SimCCGenerator sigma must be > 0 (one value or (sigma_x, sigma_y)), got {sigma!r}")
        if split_ratio is not None and split_ratio <= 0:
            raise ValueError(f"SimCCGenerator split_ratio must be > 0, got {split_ratio}")
        self._codec_given = given_names(split_ratio=split_ratio)
        self.sigma = (float(sigmas[0]), float(sigmas[1]))
        self.split_ratio = float(DEFAULT_SPLIT_RATIO if split_ratio is None else split_ratio)
        self.normalize = normalize

    def __call__(self, keypoints: torch.Tensor, outputs: HeadOutputs, stride: float) -> HeadTargets:
        """Targets for ``outputs``; ``stride`` is ignored (see the class docstring)."""
        simcc_x = outputs["x"]
        batch, num_kpts, _ = simcc_x.shape
        if keypoints.shape[1] != 1:
            raise ValueError(f"SimCCGenerator handles one individual per image, got N={keypoints.shape[1]}: "
                             "train multi-animal SimCC models on top-down crops (lightning_pose_arch.data.topdown)")
        if keypoints.shape[2] != num_kpts or keypoints.shape[0] != batch:
            raise ValueError(f"SimCCGenerator: keypoints {tuple(keypoints.shape)} do not match "
                             f"outputs {tuple(simcc_x.shape)} ([B, 1, K, 3] vs [B, K, bins])")
        keypoints = keypoints[:, 0].to(device=simcc_x.device, dtype=torch.float32)  # [B, K, 3]
        labeled = keypoints[..., 2] > 0
        weights = labeled.clone()
        targets = {}
        for axis, output, sigma in (("x", simcc_x, self.sigma[0]), ("y", outputs["y"], self.sigma[1])):
            coord = keypoints[..., 0 if axis == "x" else 1].masked_fill(~labeled, 0.0)  # NaN-free
            centers = simcc_bin_centers(output.shape[-1], self.split_ratio, device=output.device)
            weights &= (coord >= centers[0] - 3 * sigma) & (coord <= centers[-1] + 3 * sigma)
            targets[axis] = self._distribution(coord, centers, sigma)
        weights_f = weights.to(torch.float32)[..., None]  # [B, K, 1]
        return {
            axis: {"target": (target * weights_f).to(outputs[axis].dtype), "weights": weights_f.to(outputs[axis].dtype)}
            for axis, target in targets.items()
        }

    def _distribution(self, coord: torch.Tensor, centers: torch.Tensor, sigma: float) -> torch.Tensor:
        """``[B, K]`` coordinates, ``[bins]`` bin centers → ``[B, K, bins]`` Gaussians."""
        target = torch.exp(-((centers - coord[..., None]) ** 2) / (2.0 * sigma**2))
        if self.normalize:
            target = target / target.sum(dim=-1, keepdim=True).clamp_min(1e-12)
        return target
