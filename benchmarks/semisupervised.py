"""Supervised vs semi-supervised (consistency losses on unlabeled video) with few labels.

Trains the same model twice for the same number of epochs on ``--train-frames``
labeled frames of a DeepLabCut project (every other labeled frame is the
test set): once on the labels alone, once adding the consistency losses on
clips of the project's video. Reports, for both: test mean pixel error, and on
the first ``--video-frames`` frames of the video the fraction of frames with a
keypoint jump above ``--jump-px`` and the mean frame-to-frame displacement;
and seconds per training epoch. Every size is a flag, so a small version runs
on a shared CPU and the full one on a GPU:

    # small (CPU, minutes)
    python benchmarks/semisupervised.py --backbone CSPNeXt:s --image-size 128 160 --epochs 40 --out results.json
    # the recipe's model
    python benchmarks/semisupervised.py --backbone ResNet:50 --image-size 256 320 --epochs 100
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch

from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.data.formats import read_labeled_data
from lightning_pose_arch.data.split import save_split
from lightning_pose_arch.data.video_clips import UnlabeledConfig, find_videos
from lightning_pose_arch.data.video_reader import VideoReader
from lightning_pose_arch.inference.runner import Inferencer
from lightning_pose_arch.lit.module import PoseLitModule

OPENFIELD = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "openfield-Pranav-2018-10-30"


class EpochTimer(L.Callback):
    """Wall seconds of each training epoch."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.seconds.append(time.perf_counter() - self._start)
        if trainer.current_epoch % 10 == 0:
            print(f"epoch {trainer.current_epoch}: {self.seconds[-1]:.1f} s", flush=True)


def few_label_split(project: Path, train_frames: int, seed: int, path: Path) -> Path:
    """``train_frames`` random labeled frames for training, none for validation, the rest for testing."""
    paths = list(read_labeled_data(project).image_paths)
    train = sorted(random.Random(seed).sample(paths, train_frames))
    save_split({"train": train, "val": [], "test": sorted(set(paths) - set(train))}, path)
    return path


def module_cfg(args: argparse.Namespace, semi: bool) -> dict:
    backbone, variant = args.backbone.split(":")
    cfg = {
        "model": {
            "backbone": {"type": backbone, "variant": variant, "pretrained": args.pretrained},
            "heads": {"bodypart": {
                "type": "HeatmapHead",
                "predictor": {"type": "HeatmapPredictor", "location_refinement": True},
                "target_generator": {"type": "HeatmapGaussianGenerator", "generate_locref": True,
                                     "pos_dist_thresh": args.pos_dist_thresh},
                "criterion": {"heatmap": {"type": "WeightedMSECriterion"}, "locref": {"type": "WeightedHuberCriterion"}},
                "aggregator": {"type": "WeightedLossAggregator", "weights": {"heatmap": 1.0, "locref": 0.05}},
                "heatmap_config": {"num_deconv_layers": args.deconv_layers, "deconv_channels": args.deconv_channels},
            }},
        },
        "optimizer": {"type": "AdamW", "lr": args.lr, "weight_decay": 1e-4},
    }
    if semi:
        losses = {"temporal": {"type": "TemporalLoss", "epsilon": args.temporal_epsilon, "weight": args.temporal_weight,
                               "warmup_epochs": args.warmup_epochs},
                  "pose_pca": {"type": "PosePCALoss", "components_to_keep": args.pca_components,
                               "weight": args.pca_weight, "warmup_epochs": args.warmup_epochs}}
        cfg["consistency"] = {"losses": {k: v for k, v in losses.items() if v["weight"] > 0}}
    return cfg


def video_jumps(module: PoseLitModule, video: Path, frames: int, jump_px: float, chunk: int = 64) -> dict[str, float]:
    """Predict the first ``frames`` frames of ``video``; jump statistics of the keypoint tracks (video pixels)."""
    reader, inferencer = VideoReader(video), Inferencer(module)
    frames = min(frames, reader.num_frames)
    tracks = torch.cat([inferencer(reader.read_clip(start, min(chunk, frames - start)))[:, 0, :, :2]
                        for start in range(0, frames, chunk)])  # [T, K, 2]
    steps = torch.linalg.vector_norm(tracks[1:] - tracks[:-1], dim=-1)  # [T-1, K]
    return {"jump_fraction": float((steps > jump_px).any(dim=1).float().mean()),
            "mean_displacement_px": float(steps.mean()), "video_frames": frames}


def run(args: argparse.Namespace, semi: bool, split_file: Path, out_dir: Path) -> dict[str, float]:
    L.seed_everything(args.seed, workers=True)
    unlabeled = UnlabeledConfig(videos=[str(args.video)], clip_length=args.clip_length,
                                batch_size=args.clips_per_batch) if semi else None
    data = PoseDataModule(args.project, image_size=tuple(args.image_size), batch_size=args.batch_size,
                          num_workers=args.num_workers, val_fraction=0.0, split_file=split_file, unlabeled=unlabeled)
    module = PoseLitModule(module_cfg(args, semi))
    timer = EpochTimer()
    trainer = L.Trainer(max_epochs=args.epochs, accelerator=args.accelerator, default_root_dir=out_dir,
                        callbacks=[timer], enable_checkpointing=False, logger=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(module, data)
    test = trainer.test(module, data, verbose=False)[0]
    result = {"test_mean_pixel_error": test["test/mean_pixel_error"],
              "seconds_per_epoch": float(np.median(timer.seconds))}
    return result | video_jumps(module, args.video, args.video_frames, args.jump_px)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--project", type=Path, default=OPENFIELD)
    add("--video", type=Path, default=None, help="unlabeled video (default: the project's first video)")
    add("--train-frames", type=int, default=20)
    add("--epochs", type=int, default=40)
    add("--backbone", default="CSPNeXt:s", help="type:variant, e.g. ResNet:50")
    add("--pretrained", action="store_true")
    add("--image-size", type=int, nargs=2, default=[128, 160])
    add("--deconv-layers", type=int, default=2)
    add("--deconv-channels", type=int, default=64)
    add("--pos-dist-thresh", type=float, default=8.0)
    add("--batch-size", type=int, default=8)
    add("--lr", type=float, default=1e-3)
    add("--clip-length", type=int, default=4)
    add("--clips-per-batch", type=int, default=2)
    add("--temporal-epsilon", type=float, default=5.0)
    add("--temporal-weight", type=float, default=0.01)
    add("--pca-weight", type=float, default=0.01)
    add("--pca-components", type=float, default=0.95)
    add("--warmup-epochs", type=int, default=10)
    add("--video-frames", type=int, default=1000)
    add("--jump-px", type=float, default=20.0)
    add("--num-workers", type=int, default=0)
    add("--accelerator", default="auto")
    add("--threads", type=int, default=1, help="torch CPU threads")
    add("--seed", type=int, default=0)
    add("--modes", nargs="+", default=["supervised", "semisupervised"], choices=["supervised", "semisupervised"])
    add("--out", type=Path, default=Path("runs/benchmark_semisupervised"))
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    args.video = args.video or find_videos([str(args.project / "videos")])[0]
    args.out.mkdir(parents=True, exist_ok=True)
    split_file = few_label_split(args.project, args.train_frames, args.seed, args.out / "split.json")
    results = {}
    for mode in args.modes:
        results[mode] = run(args, mode == "semisupervised", split_file, args.out / mode)
        print(mode, json.dumps(results[mode]), flush=True)
    report = {"settings": {k: str(v) for k, v in vars(args).items()}, "results": results}
    (args.out / "results.json").write_text(json.dumps(report, indent=1))
    print("| | test mean px error | frames with a jump > %g px | mean displacement px | s/epoch |" % args.jump_px)
    print("|---|---|---|---|---|")
    for mode, r in results.items():
        print(f"| {mode} | {r['test_mean_pixel_error']:.2f} | {r['jump_fraction']:.3f} | "
              f"{r['mean_displacement_px']:.2f} | {r['seconds_per_epoch']:.1f} |")


if __name__ == "__main__":
    main()
