"""Tracking benchmark: MOTA, IDF1 and identity switches (py-motmetrics) on generated videos.

    python benchmarks/tracking.py tracker                     # (a) the tracker alone, over noise levels
    python benchmarks/tracking.py train --out DIR             # a bottom-up model for (b): DIR/model.ckpt
    python benchmarks/tracking.py e2e --checkpoint CKPT       # (b) a trained model's detections, end to end

(a) Ground-truth keypoints of a generated video (:func:`make_tracking_video`) become
detections with Gaussian noise, 10 % of keypoints and 10 % of detections dropped, and
covered keypoints missing (:func:`noisy_detections`); the tracker turns them into
identities. (b) ``lpa analyze``'s pipeline on a generated video, tracked (default tracker)
and untracked (``--tracker none``: best-first columns). ``train`` fits a bottom-up recipe
(default: the PAF HRNet-W18 one) from scratch on a generated multi-animal project of
``--train-frames`` frames of up to 3 animals drawn as in the videos (another seed).

A ground-truth animal counts in a frame when at least two of its keypoints are inside it;
a hypothesis matches it when their mean keypoint distance is under half a body length.
Needs ``pip install lightning_pose_arch[bench]`` (motmetrics).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from lightning_pose_arch.data.synthetic_video import (
    make_tracking_video,
    noisy_detections,
    write_video,
)
from lightning_pose_arch.tracking import build_tracker
from lightning_pose_arch.tracking.metrics import body_length, mot_summary

REPO = Path(__file__).resolve().parents[1]
TRAIN_SEED = 100  # the training project's frames; the videos use seeds 0, 1, ...
PCUTOFF = 0.1  # (e2e) keypoints scored lower are not counted, tracked or not


def tracker_curve(noise_levels: list[float], num_frames: int, seeds: list[int], tracker_spec: str | None) -> None:
    """(a): one row per noise level and seed."""
    tracker = build_tracker(tracker_spec)
    print("| σ (px) | seed | crossings | MOTA | IDF1 | switches | FP | misses | tracking s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for seed in seeds:
        video = make_tracking_video(num_frames, 3, seed=seed)
        half_body = 0.5 * body_length(video.keypoints)
        for noise in noise_levels:
            detections = noisy_detections(video.keypoints, np.random.default_rng(seed), noise=noise)
            start = time.perf_counter()
            tracked = tracker.track(detections, 3)
            seconds = time.perf_counter() - start
            m = mot_summary(video.keypoints, tracked, half_body)
            print(f"| {noise:g} | {seed} | {video.crossings} | {m['mota']:.3f} | {m['idf1']:.3f} | "
                  f"{m['num_switches']:.0f} | {m['num_false_positives']:.0f} | {m['num_misses']:.0f} | {seconds:.1f} |")


def end_to_end(checkpoint: Path, num_frames: int, seed: int, out_dir: Path) -> None:
    """(b): analyze a generated video with ``checkpoint``, tracked and untracked."""
    from lightning_pose_arch.commands import read_predictions
    from lightning_pose_arch.inference.analyze import analyze
    from lightning_pose_arch.inference.label_video import table_keypoints

    video = make_tracking_video(num_frames, 3, seed=seed)
    path = write_video(out_dir / f"tracking_seed{seed}.mp4", video.frames)
    half_body = 0.5 * body_length(video.keypoints)
    print(f"video: {num_frames} frames, 3 animals, {video.crossings} crossings; match distance {half_body:.1f} px")
    print("| tracker | MOTA | IDF1 | switches | FP | misses |")
    print("|---|---|---|---|---|---|")
    for tracker in ("KalmanTracker", "none"):
        written = analyze(checkpoint, [path], out_dir / tracker, progress=False, tracker=tracker)
        keypoints, _ = table_keypoints(read_predictions(written[0]))
        keypoints = np.where(keypoints[..., 2:] >= PCUTOFF, keypoints, np.nan)  # as a user would plot them
        m = mot_summary(video.keypoints, keypoints, half_body)
        print(f"| {tracker} | {m['mota']:.3f} | {m['idf1']:.3f} | {m['num_switches']:.0f} | "
              f"{m['num_false_positives']:.0f} | {m['num_misses']:.0f} |")


def train_bottom_up(recipe: Path, num_frames: int, epochs: int, out_dir: Path) -> Path:
    """Fit ``recipe`` for ``epochs`` (cosine schedule over them) on a generated project; the checkpoint's path."""
    import lightning as L

    from lightning_pose_arch.data.datamodule import PoseDataModule
    from lightning_pose_arch.data.synthetic_multi import make_multi_animal_project
    from lightning_pose_arch.lit.module import PoseLitModule
    from lightning_pose_arch.yaml_files import load_yaml

    project = make_multi_animal_project(out_dir / "project", num_frames=num_frames, max_animals=3, seed=TRAIN_SEED)
    config = load_yaml(recipe)
    cfg = config["model"]["cfg"]
    if "T_max" in cfg.get("scheduler", {}):
        cfg["scheduler"]["T_max"] = epochs
    L.seed_everything(config.get("seed_everything", 42), verbose=False)
    data = PoseDataModule.from_config(config["data"], project_dir=project)
    trainer = L.Trainer(max_epochs=epochs, accelerator="auto", default_root_dir=out_dir, enable_checkpointing=False,
                        enable_progress_bar=False, log_every_n_steps=config["trainer"].get("log_every_n_steps", 5))
    start = time.perf_counter()
    trainer.fit(PoseLitModule(cfg), data)
    checkpoint = out_dir / "model.ckpt"
    trainer.save_checkpoint(checkpoint)
    test = trainer.test(ckpt_path=None, datamodule=data, model=trainer.lightning_module, verbose=False)[0]
    print(f"trained {epochs} epochs on {len(data.split['train'])} frames in {time.perf_counter() - start:.0f} s; "
          f"test {', '.join(f'{k} {test[k]:.3f}' for k in ('test/map', 'test/map_50', 'test/mean_pixel_error'))}; "
          f"{checkpoint}")
    return checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["tracker", "train", "e2e"])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--noise", type=float, nargs="+", default=[0, 1, 2, 4, 8])
    parser.add_argument("--tracker", default=None, help="tracker name or YAML/JSON dict (default: KalmanTracker)")
    parser.add_argument("--checkpoint", type=Path, help="(e2e) a bottom-up multi-animal checkpoint")
    parser.add_argument("--out", type=Path, default=None, help="(train, e2e) folder for the model / video and tables")
    parser.add_argument("--recipe", type=Path, default=REPO / "experiments/synthetic_multi_paf_hrnet_w18.yaml")
    parser.add_argument("--train-frames", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=30)
    options = parser.parse_args()
    if options.part == "tracker":
        tracker_curve(options.noise, options.frames, options.seeds, options.tracker)
        return
    out_dir = options.out or Path(tempfile.mkdtemp(prefix="lpa_tracking_"))
    if options.part == "train":
        train_bottom_up(options.recipe, options.train_frames, options.epochs, out_dir)
        return
    if options.checkpoint is None:
        parser.error("e2e needs --checkpoint")
    for seed in options.seeds:
        end_to_end(options.checkpoint, options.frames, seed, out_dir)


if __name__ == "__main__":
    main()
