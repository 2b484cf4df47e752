"""Export parity on a real frame: the exported graph fed the raw openfield frame agrees with ``lpa analyze``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import heatmap_model_cfg, save_untrained_checkpoint
from lightning_pose_arch.data.dataset import read_image
from lightning_pose_arch.inference.analyze import analyze
from lightning_pose_arch.inference.export import export_model, load_exported
from lightning_pose_arch.inference.label_video import table_keypoints
from lightning_pose_arch.inference.runner import load_module

PARITY_TOLERANCE_PX = 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("export_format", ["onnx", "torchscript"])
def test_exported_graph_on_a_raw_openfield_frame_matches_analyze(openfield: Path, tmp_path: Path,
                                                                 export_format: str) -> None:
    image_path = sorted((openfield / "labeled-data").glob("*/*.png"))[0]
    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy(image_path, frames / image_path.name)
    checkpoint = save_untrained_checkpoint(tmp_path / "model.ckpt", openfield,
                                           heatmap_model_cfg(deconv_channels=16), image_size=(128, 160))
    table = pd.read_hdf(analyze(checkpoint, [frames], out_dir=tmp_path, device="cpu", progress=False)[0])
    analyzed, _ = table_keypoints(table)  # [1, 1, K, 3] in file pixels
    path = export_model(load_module(checkpoint, "cpu"), tmp_path / ("m.onnx" if export_format == "onnx" else "m.pt"),
                        export_format)
    frame = read_image(image_path)
    assert frame.shape == (480, 640, 3)  # the file's own size, not the model's 128 × 160
    exported = load_exported(path)(frame[None])
    assert exported.shape == analyzed.shape
    np.testing.assert_allclose(exported, analyzed, atol=PARITY_TOLERANCE_PX, rtol=0)
