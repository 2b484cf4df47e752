"""Benchmark: end-to-end video analysis vs the bare backbone forward, predictor share, ONNX Runtime vs eager.

All on the same frames of the openfield video, in one run:

- end to end: decode (background thread) → the model's input step (resize/normalize) → model → decode
  keypoints → file pixels, as ``lpa analyze`` does (``predict_source``);
- bare backbone: ``model.backbone`` alone on the same, already preprocessed batches;
- full model forward (backbone + heads) on those batches, and the predictor
  (heatmap argmax + locref) on their outputs: its share of the end-to-end time;
- ONNX Runtime vs eager PyTorch on the exported model (decoding included).

Speed is reported as ratios measured here; absolute fps are CPU figures of this machine.

Run: ``python benchmarks/inference.py [--checkpoint CKPT] [--frames 64] [--batch-size 8]``
(without a checkpoint, an untrained model of the ResNet-50 recipe: speed does not depend on weights).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import torch
import yaml

from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.inference.analyze import predict_source
from lightning_pose_arch.inference.export import export_model, load_exported, parity_error
from lightning_pose_arch.inference.runner import Inferencer, batched, load_module
from lightning_pose_arch.inference.sources import FrameSource
from lightning_pose_arch.lit.module import PoseLitModule
from timing import median_time

REPO = Path(__file__).resolve().parents[1]
OPENFIELD = REPO.parent / "shared" / "data" / "openfield-Pranav-2018-10-30"
VIDEO = OPENFIELD / "videos" / "m3v1mp4.mp4"
RECIPE = REPO / "experiments" / "openfield_resnet50_heatmap.yaml"


def build_module(checkpoint: str | None) -> PoseLitModule:
    if checkpoint:
        return load_module(checkpoint, "cpu")
    cfg = yaml.safe_load(RECIPE.read_text())["model"]["cfg"]
    datamodule = PoseDataModule(OPENFIELD, image_size=(256, 320), num_workers=0)
    return PoseLitModule(cfg, dataset_info=datamodule.dataset_info()).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    module = build_module(options.checkpoint)
    inferencer = Inferencer(module)
    model = module.model
    source = FrameSource(VIDEO, VIDEO.stem, max_frames=options.frames)
    frame_batches = list(batched(source.frames(), options.batch_size))
    batches = [model.input_transform(torch.from_numpy(frames)) for frames in frame_batches]
    with torch.inference_mode():
        outputs = [model(images) for images in batches]
        end_to_end = median_time(lambda: predict_source(inferencer, source, options.batch_size, progress=False), options.repeats)
        backbone = median_time(lambda: [model.backbone(images) for images in batches], options.repeats)
        forward = median_time(lambda: [model(images) for images in batches], options.repeats)
        predictor = median_time(lambda: [model.predict(out) for out in outputs], options.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_model(module, Path(tmp) / "model.onnx")
        eager_wrapper_time = forward + predictor
        run_onnx = load_exported(onnx_path)
        onnx = median_time(lambda: [run_onnx(frames) for frames in frame_batches], options.repeats)
        parity = max(parity_error(module, onnx_path, frames) for frames in frame_batches)
    count = options.frames
    print(f"Inference on {count} frames of {VIDEO.name} (640x480 → {tuple(module.dataset_info['image_size'])}), batch {options.batch_size}, "
          f"{type(model.backbone).__name__} + {', '.join(type(h).__name__ for h in model.heads.values())}")
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), {platform.machine()}, CPU; median of {options.repeats}")
    rows = [
        ("end to end (decode+preprocess+model+decode)", end_to_end),
        ("bare backbone forward", backbone),
        ("model forward (backbone + heads)", forward),
        ("predictor (argmax + locref)", predictor),
        ("ONNX Runtime (input step + model + predictor)", onnx),
        ("eager PyTorch (model + predictor)", eager_wrapper_time),
    ]
    for name, seconds in rows:
        print(f"  {name:<46} {count / seconds:8.1f} frames/s   {1000 * seconds / count:7.2f} ms/frame")
    print(f"end to end / bare backbone fps:   {backbone / end_to_end:.2f}")
    print(f"end to end / model forward fps:   {forward / end_to_end:.2f}")
    print(f"predictor share of end to end:    {100 * predictor / end_to_end:.2f} %")
    print(f"ONNX Runtime / eager fps:         {eager_wrapper_time / onnx:.2f}   (max keypoint |Δ| {parity:.2e})")


if __name__ == "__main__":
    main()
