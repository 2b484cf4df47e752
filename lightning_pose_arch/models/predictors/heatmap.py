"""Heatmap decoding: argmax cell + location refinement → keypoints.

Inverse of :mod:`lightning_pose_arch.models.target_generators.heatmap`;
both map grid ↔ image with :mod:`lightning_pose_arch.models.grid`.
"""

from __future__ import annotations

import torch

from lightning_pose_arch.data.types import HeadOutputs, Prediction
from lightning_pose_arch.models.codec import DEFAULT_LOCATION_REFINEMENT, DEFAULT_LOCREF_STD, given_names
from lightning_pose_arch.models.grid import grid_to_image
from lightning_pose_arch.models.predictors.base import PREDICTORS, BasePredictor


@PREDICTORS.register
class HeatmapPredictor(BasePredictor):
    """Single-individual heatmap decoder.

    Takes ``{"heatmap": [B, K, h, w]}`` (plus ``"locref": [B, 2K, h, w]``,
    interleaved x/y, when ``location_refinement``) and returns
    ``{"keypoints": [B, 1, K, 3]}``: the argmax cell's center in input-image
    pixels, shifted by ``locref · locref_std``, and the heatmap value there
    as score (sigmoid of it with ``apply_sigmoid``, else clamped to [0, 1]).

    Args:
        location_refinement: Use the locref offsets (``None``: the head's codec value, default True).
        locref_std: Scale of the locref offsets (``None``: the head's codec value, default 7.2801);
            inside a head it is the generator's (:mod:`lightning_pose_arch.models.codec`).
        apply_sigmoid: Heatmaps are logits (e.g. trained with WeightedBCECriterion).
    """

    def __init__(
        self, location_refinement: bool | None = None, locref_std: float | None = None, apply_sigmoid: bool = False
    ) -> None:
        if locref_std is not None and locref_std <= 0:
            raise ValueError(f"HeatmapPredictor locref_std must be > 0, got {locref_std}")
        self._codec_given = given_names(location_refinement=location_refinement, locref_std=locref_std)
        self.location_refinement = DEFAULT_LOCATION_REFINEMENT if location_refinement is None else location_refinement
        self.locref_std = float(DEFAULT_LOCREF_STD if locref_std is None else locref_std)
        self.apply_sigmoid = apply_sigmoid

    def __call__(self, outputs: HeadOutputs, stride: float) -> Prediction:
        heatmap = outputs["heatmap"]
        batch, num_kpts, height, width = heatmap.shape
        scores, flat_index = heatmap.flatten(2).max(dim=2)  # [B, K]
        row, col = flat_index // width, flat_index % width
        x = grid_to_image(col.to(heatmap.dtype), stride)
        y = grid_to_image(row.to(heatmap.dtype), stride)
        if self.location_refinement:
            locref = outputs["locref"].reshape(batch, num_kpts, 2, height * width)
            offsets = locref.gather(3, flat_index[:, :, None, None].expand(-1, -1, 2, 1))[..., 0]  # [B, K, 2]
            x = x + offsets[..., 0] * self.locref_std
            y = y + offsets[..., 1] * self.locref_std
        scores = torch.sigmoid(scores) if self.apply_sigmoid else scores.clamp(0.0, 1.0)
        return {"keypoints": torch.stack([x, y, scores], dim=-1)[:, None]}
