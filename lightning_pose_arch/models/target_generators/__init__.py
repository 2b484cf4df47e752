"""Target generators: keypoints ``[B, N, K, 3]`` → per-output targets and weights."""

from lightning_pose_arch.models.target_generators.base import TARGET_GENERATORS, BaseGenerator
from lightning_pose_arch.models.target_generators.dekr import DEKRGenerator
from lightning_pose_arch.models.target_generators.heatmap import HeatmapGaussianGenerator, HeatmapPlateauGenerator
from lightning_pose_arch.models.target_generators.paf import PAFGenerator
from lightning_pose_arch.models.target_generators.simcc import SimCCGenerator

__all__ = [
    "TARGET_GENERATORS", "BaseGenerator", "DEKRGenerator", "HeatmapGaussianGenerator", "HeatmapPlateauGenerator",
    "PAFGenerator", "SimCCGenerator",
]
