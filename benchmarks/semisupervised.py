"""Supervised vs semi-supervised (consistency losses on unlabeled video) with few labels.

Trains a semi-supervised recipe (default
``experiments/openfield_resnet50_semisupervised.yaml``) twice for the same number
of epochs on ``--train-frames`` labeled frames of a DeepLabCut project (every other
labeled frame is the test set): once on the labels alone (the recipe without its
``consistency`` losses and ``unlabeled`` video), once as written, on clips of the
project's video. Reports, for both: test mean pixel error, and on the first
``--video-frames`` frames of the video the fraction of frames with a keypoint jump
above ``--jump-px`` and the mean frame-to-frame displacement; and seconds per
training epoch. ``--consistency-start N [M ...]`` makes one semi-supervised run per value, with every
loss's ``start_epoch`` set to it (a supervised warm start). Input size and batch can be overridden so a
CPU run takes minutes:

    python benchmarks/semisupervised.py --image-size 128 160 --epochs 100    # CPU
    python benchmarks/semisupervised.py --image-size 128 160 --epochs 100 --consistency-start 0 50
    python benchmarks/semisupervised.py                                        # the recipe as written (GPU)
"""

from __future__ import annotations

import argparse
import copy
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
from lightning_pose_arch.data.video_clips import find_videos
from lightning_pose_arch.data.video_reader import VideoReader
from lightning_pose_arch.inference.runner import Inferencer
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.yaml_files import load_yaml

REPO = Path(__file__).resolve().parents[1]
OPENFIELD = REPO.parent / "shared" / "data" / "openfield-Pranav-2018-10-30"


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


def variant(recipe: dict, semi: bool, args: argparse.Namespace, split_file: Path,
            consistency_start: int | None = None) -> tuple[dict, dict]:
    """The recipe's module cfg and data mapping, with or without its consistency losses and unlabeled video
    (and with every loss's ``start_epoch`` set to ``consistency_start`` if given)."""
    cfg, data = copy.deepcopy(recipe["model"]["cfg"]), dict(recipe["data"])
    if "T_max" in cfg.get("scheduler", {}):
        cfg["scheduler"]["T_max"] = args.epochs
    if not semi:
        cfg.pop("consistency", None)
        data.pop("unlabeled", None)
    else:
        data["unlabeled"] = {**data["unlabeled"], "videos": [str(args.video)]}
        if consistency_start is not None:
            for loss in cfg["consistency"]["losses"].values():
                loss["start_epoch"] = consistency_start
    data.update(project_dir=args.project, split_file=split_file, val_fraction=0.0, num_workers=args.num_workers)
    data.update({key: value for key, value in (("image_size", args.image_size), ("batch_size", args.batch_size))
                 if value is not None})
    return cfg, data


def video_jumps(module: PoseLitModule, video: Path, frames: int, jump_px: float, chunk: int = 64) -> dict[str, float]:
    """Predict the first ``frames`` frames of ``video``; jump statistics of the keypoint tracks (video pixels)."""
    reader, inferencer = VideoReader(video), Inferencer(module)
    frames = min(frames, reader.num_frames)
    tracks = torch.cat([inferencer(reader.read_clip(start, min(chunk, frames - start)))[:, 0, :, :2]
                        for start in range(0, frames, chunk)])  # [T, K, 2]
    steps = torch.linalg.vector_norm(tracks[1:] - tracks[:-1], dim=-1)  # [T-1, K]
    return {"jump_fraction": float((steps > jump_px).any(dim=1).float().mean()),
            "mean_displacement_px": float(steps.mean()), "video_frames": frames}


def run(args: argparse.Namespace, semi: bool, split_file: Path, out_dir: Path,
        consistency_start: int | None = None) -> dict[str, float]:
    L.seed_everything(args.seed, workers=True)
    cfg, data = variant(load_yaml(args.recipe), semi, args, split_file, consistency_start)
    module, data = PoseLitModule(cfg), PoseDataModule.from_config(data)
    timer = EpochTimer()
    trainer = L.Trainer(max_epochs=args.epochs, accelerator=args.accelerator, default_root_dir=out_dir,
                        callbacks=[timer], enable_checkpointing=False, logger=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(module, data)
    test = trainer.test(module, data, verbose=False)[0]
    result = {"test_mean_pixel_error": test["test/mean_pixel_error"],
              "seconds_per_epoch": float(np.median(timer.seconds)), "train_seconds": float(sum(timer.seconds))}
    return result | video_jumps(module, args.video, args.video_frames, args.jump_px)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--recipe", type=Path, default=REPO / "experiments/openfield_resnet50_semisupervised.yaml",
        help="a semi-supervised recipe; the supervised run drops its consistency losses and unlabeled video")
    add("--project", type=Path, default=OPENFIELD)
    add("--video", type=Path, default=None, help="unlabeled video (default: the project's first video)")
    add("--train-frames", type=int, default=20)
    add("--epochs", type=int, default=100, help="for both runs (and the cosine schedule's T_max)")
    add("--image-size", type=int, nargs=2, default=None, help="override the recipe's data.image_size")
    add("--batch-size", type=int, default=None, help="override the recipe's data.batch_size")
    add("--video-frames", type=int, default=1000)
    add("--jump-px", type=float, default=20.0)
    add("--num-workers", type=int, default=2)
    add("--accelerator", default="auto")
    add("--seed", type=int, default=0)
    add("--consistency-start", type=int, nargs="+", default=None,
        help="one semi-supervised run per value, every loss starting at that epoch (default: the recipe's)")
    add("--modes", nargs="+", default=["supervised", "semisupervised"], choices=["supervised", "semisupervised"])
    add("--out", type=Path, default=Path("runs/benchmark_semisupervised"))
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    args.video = args.video or find_videos([str(args.project / "videos")])[0]
    args.out.mkdir(parents=True, exist_ok=True)
    split_file = few_label_split(args.project, args.train_frames, args.seed, args.out / "split.json")
    runs = [("supervised", False, None)] if "supervised" in args.modes else []
    if "semisupervised" in args.modes:
        runs += [("semisupervised" if start is None else f"semisupervised_from_epoch_{start}", True, start)
                 for start in args.consistency_start or [None]]
    results = {}
    for name, semi, start in runs:
        results[name] = run(args, semi, split_file, args.out / name, start)
        print(name, json.dumps(results[name]), flush=True)
    report = {"settings": {k: str(v) for k, v in vars(args).items()}, "results": results}
    (args.out / "results.json").write_text(json.dumps(report, indent=1))
    print(f"| | test mean px error | frames with a jump > {args.jump_px:g} px | mean displacement px | s/epoch "
          "(median) | training s |")
    print("|---|---|---|---|---|---|")
    for mode, r in results.items():
        print(f"| {mode} | {r['test_mean_pixel_error']:.2f} | {r['jump_fraction']:.3f} | "
              f"{r['mean_displacement_px']:.2f} | {r['seconds_per_epoch']:.1f} | {r['train_seconds']:.0f} |")


if __name__ == "__main__":
    main()
