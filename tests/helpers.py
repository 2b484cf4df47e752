"""Helpers shared by the tests (import as ``from helpers import ...``)."""

from __future__ import annotations

from pathlib import Path

import av
import lightning as L
import numpy as np
import torch

from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.lit.module import PoseLitModule

REPO = Path(__file__).resolve().parents[1]
OPENFIELD = REPO.parent / "shared" / "data" / "openfield-Pranav-2018-10-30"
SEED_HEAD_CFG = dict(  # the HeatmapHead example of DESIGN.md, verbatim
    type="HeatmapHead",
    predictor=dict(type="HeatmapPredictor", location_refinement=True, locref_std=7.2801),
    target_generator=dict(type="HeatmapGaussianGenerator", num_heatmaps=17, pos_dist_thresh=17, generate_locref=True),
    criterion=dict(type="WeightedMSECriterion"),
    aggregator=None,
    heatmap_config=dict(num_input_channels=256, num_output_channels=17, num_deconv_layers=1),
)
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


DOT_KEYPOINTS = ((((16.0, 20.0, 2.0), (40.0, 44.0, 2.0)),), (((48.0, 12.0, 2.0), (24.0, 50.0, 2.0)),))
"""Two 64×64 images, one individual, two keypoints each: ``[2, 1, 2, 3]``."""


def dot_images(keypoints: torch.Tensor, size: int) -> torch.Tensor:
    """Black images with a bright 5×5 dot at each keypoint (keypoint k in channel k % 3)."""
    images = torch.zeros(keypoints.shape[0], 3, size, size)
    for b in range(keypoints.shape[0]):
        for k in range(keypoints.shape[2]):
            x, y = keypoints[b, 0, k, :2].long().tolist()
            images[b, k % 3, y - 2: y + 3, x - 2: x + 3] = 3.0
    return images


def overfit_dots(model: torch.nn.Module, steps: int = 30, lr: float = 1e-3) -> tuple[list[float], dict]:
    """Train ``model`` (a PoseModel with 2 keypoints) on the dot images; return (losses, batch)."""
    keypoints = torch.tensor(DOT_KEYPOINTS)
    batch = {"image": dot_images(keypoints, 64), "keypoints": keypoints}
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        outputs = model(batch["image"])
        loss = model.get_loss(outputs, model.get_targets(batch, outputs))["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, batch


def save_untrained_checkpoint(path, project, model_cfg: dict | None = None, image_size=(64, 96)):
    """Write a checkpoint as training writes it (config, dataset info, weights), without training; return ``path``."""
    info = PoseDataModule(project, image_size=image_size, num_workers=0).dataset_info()
    module = PoseLitModule({"model": model_cfg or heatmap_model_cfg()}, dataset_info=info)
    contents = {"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "pytorch-lightning_version": L.__version__}
    torch.save(contents, path)
    return path


def write_video(path: Path, frames: np.ndarray, keyframe_every: int = 8) -> Path:
    """Write ``[T, H, W, 3]`` uint8 RGB as lossless H.264 (``crf 0``, 4:4:4) with a keyframe every
    ``keyframe_every`` frames, so reading a clip has to seek."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv444p"
        stream.options = {"crf": "0"}
        stream.codec_context.gop_size = keyframe_every
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path
