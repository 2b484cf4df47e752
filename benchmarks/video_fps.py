"""Benchmark: ``lpa analyze`` frames per second on openfield video, resized vs native resolution, vs DeepLabCut.

Writes the first ``--frames`` frames of ``videos/m3v1mp4.mp4`` (640×480) to a
clip, as ``../shared/anchors/dlc/run_openfield.py`` does for DeepLabCut's
``analyze_videos``, then times ``lpa analyze``'s function (model loading
included, as in DeepLabCut's figure) at batch 1 and 8 for each recipe: the
ResNet-50 recipe at its training size (frames resized to 256×320) and the
native-resolution recipe (whole 640×480 frames). Speed does not depend on the
weights: the models are untrained. With ``--dlc-results`` (the anchor's
``anchor_results.json`` from the same session) DeepLabCut's figures are
printed beside ours, with ratios.

Run: ``python benchmarks/video_fps.py [--frames 200] [--dlc-results /tmp/dlcproj/anchor_results.json]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import lightning as L
import torch

from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.inference.analyze import analyze
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.yaml_files import load_yaml

REPO = Path(__file__).resolve().parents[1]
OPENFIELD = REPO.parent / "shared" / "data" / "openfield-Pranav-2018-10-30"
VIDEO = OPENFIELD / "videos" / "m3v1mp4.mp4"
RECIPES = {"resized to 256x320": "openfield_resnet50_heatmap.yaml", "native 640x480": "openfield_resnet50_native.yaml"}


def write_clip(source: Path, frames: int, out: Path) -> Path:
    """The first ``frames`` frames of ``source`` as an mp4v clip (what the DeepLabCut anchor analyzes)."""
    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    writer = None
    for _ in range(frames):
        ok, frame = capture.read()
        if not ok:
            break
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0]))
        writer.write(frame)
    capture.release()
    writer.release()
    return out


def untrained_checkpoint(recipe: Path, out: Path) -> Path:
    """A checkpoint of ``recipe``'s model as ``lpa fit`` writes it, before any step."""
    config = load_yaml(recipe)
    datamodule = PoseDataModule.from_config(config["data"], project_dir=OPENFIELD, num_workers=0)
    module = PoseLitModule(config["model"]["cfg"], dataset_info=datamodule.dataset_info())
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, accelerator="cpu")
    trainer.strategy.connect(module)
    trainer.save_checkpoint(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--dlc-results", type=Path, default=None, help="the anchor's anchor_results.json")
    options = parser.parse_args()
    dlc = json.loads(options.dlc_results.read_text()) if options.dlc_results else {}
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(VIDEO, options.frames, Path(tmp) / "clip.mp4")
        print(f"lpa analyze on {options.frames} frames of {VIDEO.name} (640x480), CPU, {torch.get_num_threads()} threads,"
              " model loading included\n")
        print(f"{'model':<32} {'batch':>5} {'frames/s':>9} {'vs DeepLabCut':>14}")
        for name, recipe in RECIPES.items():
            checkpoint = untrained_checkpoint(REPO / "experiments" / recipe, Path(tmp) / f"{Path(recipe).stem}.ckpt")
            for batch_size in options.batch_sizes:
                start = time.perf_counter()
                analyze(checkpoint, [clip], out_dir=Path(tmp) / f"out{batch_size}", batch_size=batch_size,
                        device="cpu", progress=False, overwrite=True, dlc_compatible=False)
                fps = options.frames / (time.perf_counter() - start)
                reference = dlc.get(f"analyze_bs{batch_size}_fps")
                ratio = f"{fps / reference:13.2f}x" if reference else ""
                print(f"{name:<32} {batch_size:>5} {fps:9.2f} {ratio:>14}")
        for batch_size in options.batch_sizes:
            if dlc.get(f"analyze_bs{batch_size}_fps"):
                print(f"{'DeepLabCut 3.0.2 resnet_50':<32} {batch_size:>5} {dlc[f'analyze_bs{batch_size}_fps']:9.2f}")


if __name__ == "__main__":
    main()
