"""Helpers shared by the tests (import as ``from helpers import ...``)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OPENFIELD = REPO.parent / "shared" / "data" / "openfield-Pranav-2018-10-30"
VIDEO_FRAMES = 10  # frames of the synthetic video fixture (tests/inference/conftest.py)


def heatmap_model_cfg(backbone: dict | None = None, num_deconv_layers: int = 3, deconv_channels: int = 32) -> dict:
    """A small heatmap model config with sizes left for the data to fill."""
    return {
        "backbone": backbone or {"type": "CSPNeXt", "variant": "s"},
        "heads": {
            "bodypart": {
                "type": "HeatmapHead",
                "predictor": {"type": "HeatmapPredictor"},
                "target_generator": {"type": "HeatmapGaussianGenerator", "pos_dist_thresh": 8},
                "criterion": {"type": "WeightedMSECriterion"},
                "heatmap_config": {"num_deconv_layers": num_deconv_layers, "deconv_channels": deconv_channels},
            }
        },
    }
