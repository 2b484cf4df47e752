"""Benchmark: top-down inference (detector → crops → pose) per frame vs the whole-frame heatmap model.

On the same frames of the openfield video, in one run:

- detector alone (frame resized to its training size → boxes);
- crop + pose: the pose model on the crop of each box, mapped back to frame pixels;
- end to end (``TopDownInferencer``: both, as ``lpa analyze --detector`` runs them);
- reference: the whole-frame ResNet-50 heatmap recipe (``Inferencer``) on the same frames.

Speed is reported as ratios measured here; per-frame times are CPU figures of this machine.
Weights do not change the speed: without checkpoints, untrained models of the recipes are timed.

Run: ``python benchmarks/topdown.py [--pose CKPT] [--detector CKPT] [--reference CKPT] [--frames 32]``
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import numpy as np
import torch
import yaml

from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.data.topdown import TopDownConfig
from lightning_pose_arch.inference.runner import Inferencer, frames_to_tensor, load_module
from lightning_pose_arch.inference.sources import FrameSource
from lightning_pose_arch.inference.topdown import TopDownInferencer, load_detector
from lightning_pose_arch.lit.detector import DetectorLitModule
from lightning_pose_arch.lit.module import PoseLitModule
from timing import median_time

REPO = Path(__file__).resolve().parents[1]
OPENFIELD = REPO.parent / "shared" / "data" / "openfield-Pranav-2018-10-30"
VIDEO = OPENFIELD / "videos" / "m3v1mp4.mp4"
RECIPES = REPO / "experiments"


def untrained(recipe: str, module_class: type) -> torch.nn.Module:
    """A recipe's module with random weights, built for the openfield data."""
    config = yaml.safe_load((RECIPES / recipe).read_text())
    data = {k: v for k, v in config["data"].items() if k not in ("project_dir", "num_workers")}
    if data.get("crop"):
        data["crop"] = TopDownConfig(**data["crop"])
    info = PoseDataModule(OPENFIELD, num_workers=0, **data).dataset_info()
    return module_class(config["model"]["cfg"], dataset_info=info).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pose", help="top-down pose checkpoint (default: untrained openfield_cspnext_m_rtmcc)")
    parser.add_argument("--detector", help="detector checkpoint (default: untrained openfield_fasterrcnn_detector)")
    parser.add_argument("--reference", help="whole-frame checkpoint (default: untrained openfield_resnet50_heatmap)")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    pose = load_module(options.pose, "cpu") if options.pose else untrained("openfield_cspnext_m_rtmcc.yaml", PoseLitModule)
    detector = load_detector(options.detector, "cpu") if options.detector else \
        untrained("openfield_fasterrcnn_detector.yaml", DetectorLitModule)
    detector.detector.model.roi_heads.score_thresh = 0.0  # untrained: keep boxes so the pose model always runs
    reference = Inferencer(load_module(options.reference, "cpu") if options.reference else
                           untrained("openfield_resnet50_heatmap.yaml", PoseLitModule))
    top_down = TopDownInferencer(pose, detector, min_box_score=0.0)
    frames = list(FrameSource(VIDEO, VIDEO.stem, max_frames=options.frames).frames())
    batches = [np.stack(frames[i: i + options.batch_size]) for i in range(0, len(frames), options.batch_size)]

    def run(fn) -> float:
        return median_time(lambda: [fn(batch) for batch in batches], options.repeats) / len(frames)

    with torch.inference_mode():
        detect = run(lambda batch: top_down.detect(frames_to_tensor(batch, pose.device)))
        end_to_end = run(top_down)
        whole_frame = run(reference)
    print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {len(frames)} frames "
          f"of {VIDEO.name}, batch {options.batch_size}")
    print(f"detector alone       {detect * 1e3:7.1f} ms/frame")
    print(f"crop + pose          {(end_to_end - detect) * 1e3:7.1f} ms/frame")
    print(f"top-down end to end  {end_to_end * 1e3:7.1f} ms/frame  ({1 / end_to_end:.1f} frames/s)")
    print(f"whole-frame ResNet-50 heatmap (reference) {whole_frame * 1e3:7.1f} ms/frame")
    print(f"top-down / whole-frame time: {end_to_end / whole_frame:.2f}x")


if __name__ == "__main__":
    main()
