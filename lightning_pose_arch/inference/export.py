"""Export a trained model with its decoder (keypoints out) to ONNX or TorchScript, with a parity check."""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch import nn

from lightning_pose_arch.lit.module import PoseLitModule


class KeypointExportModel(nn.Module):
    """``images [B, 3, H, W]`` (normalized, training ``image_size``) → keypoints ``[B, N, K, 3]``.

    Wraps the trained model and the predictor of its keypoints head
    (``PoseModel.keypoints_head``), so the exported graph decodes (heatmap
    argmax + locref) and returns x, y, score in input pixels.
    """

    def __init__(self, module: PoseLitModule) -> None:
        super().__init__()
        if module.model is None:
            raise ValueError("the module has no model: load it from a training checkpoint")
        self.model = module.model
        self.head = module.model.keypoints_head

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.predict(self.model(images))[self.head]["keypoints"]


def export_model(
    module: PoseLitModule,
    out_path: str | Path,
    export_format: Literal["onnx", "torchscript"] = "onnx",
    opset: int = 17,
) -> Path:
    """Write the model (with decoding) and ``<out_path>.json`` metadata (bodyparts, image size, normalization).

    The batch axis is dynamic. Returns the model file's path.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = KeypointExportModel(module).eval()
    height, width = module.dataset_info["image_size"]
    example = torch.zeros(2, 3, height, width)
    tmp_path = out_path.with_name(f".{out_path.name}.tmp")
    with torch.no_grad():
        if export_format == "onnx":
            torch.onnx.export(wrapper, (example,), str(tmp_path), input_names=["images"], output_names=["keypoints"],
                              dynamic_axes={"images": {0: "batch"}, "keypoints": {0: "batch"}}, opset_version=opset,
                              dynamo=False)
        elif export_format == "torchscript":
            torch.jit.trace(wrapper, example).save(str(tmp_path))
        else:
            raise ValueError(f"export format must be 'onnx' or 'torchscript', got {export_format!r}")
    tmp_path.replace(out_path)
    metadata = {**module.dataset_info, "input": "images [B, 3, H, W], normalized",
                "output": "keypoints [B, N, K, 3]: x, y, score in input pixels"}
    out_path.with_name(out_path.name + ".json").write_text(json.dumps(metadata, indent=1))
    return out_path


def load_exported(path: str | Path) -> Callable[[torch.Tensor], np.ndarray]:
    """Load an exported model once (ONNX via onnxruntime, else TorchScript); return ``images → keypoints``."""
    path = Path(path)
    if path.suffix == ".onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda images: session.run(["keypoints"], {"images": images.detach().cpu().numpy()})[0]
    scripted = torch.jit.load(str(path))

    def run_scripted(images: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return scripted(images.cpu()).numpy()

    return run_scripted


def parity_error(module: PoseLitModule, path: str | Path, images: torch.Tensor) -> float:
    """Max absolute keypoint difference (x, y in pixels; score) of the export vs eager PyTorch."""
    wrapper = KeypointExportModel(module).eval().cpu()
    with torch.no_grad():
        eager = wrapper(images.cpu()).numpy()
    return float(np.abs(load_exported(path)(images) - eager).max())
