"""Tracking benchmark: MOTA, IDF1 and identity switches (py-motmetrics) on generated videos.

    python benchmarks/tracking.py tracker                     # (a) the tracker alone, over noise levels
    python benchmarks/tracking.py e2e --checkpoint CKPT       # (b) a trained model's detections, end to end

(a) Ground-truth keypoints of a generated video (:func:`make_tracking_video`) become
detections with Gaussian noise, 10 % of keypoints and 10 % of detections dropped, and
covered keypoints missing (:func:`noisy_detections`); the tracker turns them into
identities. (b) ``lpa analyze``'s pipeline on a generated video, tracked (default tracker)
and untracked (``--tracker none``: best-first columns).

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

from lightning_pose_arch.data.synthetic_video import make_tracking_video, noisy_detections, write_video
from lightning_pose_arch.tracking import build_tracker
from lightning_pose_arch.tracking.metrics import body_length, mot_summary

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["tracker", "e2e"])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--noise", type=float, nargs="+", default=[0, 1, 2, 4, 8])
    parser.add_argument("--tracker", default=None, help="tracker name or YAML/JSON dict (default: KalmanTracker)")
    parser.add_argument("--checkpoint", type=Path, help="(e2e) a bottom-up multi-animal checkpoint")
    parser.add_argument("--out", type=Path, default=None, help="(e2e) folder for the video and tables")
    options = parser.parse_args()
    if options.part == "tracker":
        tracker_curve(options.noise, options.frames, options.seeds, options.tracker)
        return
    if options.checkpoint is None:
        parser.error("e2e needs --checkpoint")
    out_dir = options.out or Path(tempfile.mkdtemp(prefix="lpa_tracking_"))
    end_to_end(options.checkpoint, options.frames, options.seeds[0], out_dir)


if __name__ == "__main__":
    main()
