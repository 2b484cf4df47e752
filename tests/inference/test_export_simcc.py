"""Export with decoding for a SimCC (RTMCC head) model: ONNX and TorchScript agree with PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lightning_pose_arch.data.transforms import IMAGENET_NORMALIZATION
from lightning_pose_arch.inference.export import export_model, parity_error
from lightning_pose_arch.lit.module import PoseLitModule

PARITY_TOLERANCE = 1e-3


def simcc_module() -> PoseLitModule:
    """A small untrained CSPNeXt-s + RTMCCHead model; input and feature sizes come from dataset_info."""
    torch.manual_seed(0)
    cfg = {"model": {
        "backbone": {"type": "CSPNeXt", "variant": "s"},
        "heads": {"bodypart": {
            "type": "RTMCCHead", "predictor": {"type": "SimCCPredictor"},
            "target_generator": {"type": "SimCCGenerator"}, "criterion": {"type": "KLDiscreteLoss"},
            "hidden_dims": 32, "gau_attention_dims": 16,
        }},
    }}
    dataset_info = {"bodyparts": ["snout", "leftear", "rightear"], "individuals": ["single animal"], "skeleton": [],
                    "image_size": [64, 96], "normalization": IMAGENET_NORMALIZATION}
    module = PoseLitModule(cfg, dataset_info=dataset_info).eval()
    # Stand-in for trained weights: the near-zero init gives near-flat outputs (top-2 bins ~1e-12
    # apart), where float noise between runtimes, not the export, would decide the argmax.
    head = module.model.heads["bodypart"]
    with torch.no_grad():
        for layer in (head.final_layer, head.mlp[1], head.gau.uv, head.gau.out, head.cls_x, head.cls_y):
            torch.nn.init.kaiming_normal_(layer.weight)
    return module


@pytest.mark.parametrize("export_format", ["onnx", "torchscript"])
def test_simcc_model_exports_with_parity(tmp_path: Path, export_format: str) -> None:
    module = simcc_module()
    assert module.model.heads["bodypart"].input_size == (64, 96)
    path = export_model(module, tmp_path / ("m.onnx" if export_format == "onnx" else "m.pt"), export_format)
    frames = np.random.default_rng(0).integers(0, 256, size=(3, 67, 101, 3), dtype=np.uint8)  # raw, odd size
    assert parity_error(module, path, frames) < PARITY_TOLERANCE
