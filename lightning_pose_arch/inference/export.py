"""Export a trained model with its decoder (keypoints out) to ONNX or TorchScript, with a parity check."""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch import nn

from lightning_pose_arch.extras import require_extra
from lightning_pose_arch.lit.module import PoseLitModule


class KeypointExportModel(nn.Module):
    """``frames [B, H0, W0, 3]`` uint8 RGB, as decoded, any size → keypoints ``[B, N, K, 3]`` in the frames' pixels.

    Wraps the trained model's own input step (resize to the training
    ``image_size``, normalization), the network and the predictor of its keypoints
    head (``PoseModel.keypoints_head``), through
    :meth:`~lightning_pose_arch.models.pose_model.PoseModel.predict_frames`,
    so the exported graph takes raw frames and returns x, y, score in the
    frames' own pixels, exactly as ``lpa analyze`` does.
    """

    def __init__(self, module: PoseLitModule) -> None:
        super().__init__()
        if module.model is None:
            raise ValueError("the module has no model: load it from a training checkpoint")
        self.model = module.model
        self.head = module.model.keypoints_head

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.model.predict_frames(frames, [self.head])[self.head]["keypoints"]




def require_onnx() -> None:
    """Raise ``ImportError`` naming the ``export`` extra when ``onnx`` or ``onnxruntime`` is missing."""
    require_extra("ONNX export", ("onnx", "onnxruntime"), "export",
                  alternative="or use --format torchscript, which needs no extra")


def export_model(
    module: PoseLitModule,
    out_path: str | Path,
    export_format: Literal["onnx", "torchscript"] = "onnx",
    opset: int = 17,
) -> Path:
    """Write the model (input step and decoding included) and ``<out_path>.json`` metadata (bodyparts, image size,
    normalization).

    The graph takes uint8 frames ``[B, H0, W0, 3]`` (RGB) of any batch size and any frame size (H0, W0 ≥ 1;
    all frames of one batch the same size) and returns ``[B, N, K, 3]`` x, y, score in the frames' pixels. Returns the model file's path. ONNX needs the
    ``export`` extra (:func:`require_onnx`); TorchScript needs nothing beyond torch.
    """
    if export_format == "onnx":
        require_onnx()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = KeypointExportModel(module).eval().cpu()
    height, width = module.dataset_info["image_size"]
    # An example size other than the input size, so the resize is part of the traced graph.
    example = torch.zeros(2, height + 7, width + 5, 3, dtype=torch.uint8)
    tmp_path = out_path.with_name(f".{out_path.name}.tmp")
    with torch.no_grad():
        if export_format == "onnx":
            torch.onnx.export(wrapper, (example,), str(tmp_path), input_names=["frames"], output_names=["keypoints"],
                              dynamic_axes={"frames": {0: "batch", 1: "height", 2: "width"}, "keypoints": {0: "batch"}},
                              opset_version=opset, dynamo=False)
        elif export_format == "torchscript":
            torch.jit.trace(wrapper, example).save(str(tmp_path))
        else:
            raise ValueError(f"export format must be 'onnx' or 'torchscript', got {export_format!r}")
    tmp_path.replace(out_path)
    inside = "padded" if module.model.input_transform.pad_multiple else "resized"
    metadata = {**module.dataset_info, "input": f"frames [B, H, W, 3] uint8 RGB, any size ({inside} inside)",
                "output": "keypoints [B, N, K, 3]: x, y, score in the frames' pixels (pixel centers at integers)"}
    out_path.with_name(out_path.name + ".json").write_text(json.dumps(metadata, indent=1))
    return out_path


def load_exported(path: str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """Load an exported model once (ONNX via onnxruntime, else TorchScript); return ``frames → keypoints``."""
    path = Path(path)
    if path.suffix == ".onnx":
        require_onnx()
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return lambda frames: session.run(["keypoints"], {"frames": np.ascontiguousarray(frames)})[0]
    scripted = torch.jit.load(str(path))

    def run_scripted(frames: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return scripted(torch.from_numpy(np.ascontiguousarray(frames))).numpy()

    return run_scripted


def parity_error(module: PoseLitModule, path: str | Path, frames: np.ndarray) -> float:
    """Max absolute keypoint difference (x, y in frame pixels; score) of the export on ``frames [B, H0, W0, 3]``
    uint8 vs eager PyTorch (``lpa analyze``'s path, :class:`~lightning_pose_arch.inference.runner.Inferencer`)."""
    from lightning_pose_arch.inference.runner import Inferencer

    eager = Inferencer(module.cpu())(frames).numpy()
    return float(np.abs(load_exported(path)(frames) - eager).max())
