"""Benchmark: batched Gaussian + locref heatmap targets vs a per-keypoint numpy reference.

Times ``HeatmapGaussianGenerator(generate_locref=True)`` on a batch of 8
images of 256×256 pixels at stride 4 (64×64 grid) with K=17 keypoints, for a
single animal (N=1) and for N=8 individuals, against a straightforward numpy
implementation that loops over batch × individual × keypoint. Both use the
same convention (cell centers at ``(j + 0.5) * stride - 0.5``,
``σ = 2/3 · pos_dist_thresh``, locref ``(keypoint - center) / locref_std``
within ``pos_dist_thresh`` of the nearest labeled individual). The outputs
are checked to agree before anything is timed.

Run: ``python benchmarks/target_generation.py [--repeats 9] [--threads N]``
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
import torch

from lightning_pose_arch.models.target_generators import HeatmapGaussianGenerator
from timing import median_time

BATCH, NUM_KPTS, IMAGE_SIZE, STRIDE = 8, 17, 256, 4
POS_DIST_THRESH, LOCREF_STD = 17.0, 7.2801
UNLABELED_FRACTION = 0.1


def make_keypoints(num_individuals: int, seed: int = 0) -> np.ndarray:
    """``[B, N, K, 3]`` sub-pixel keypoints; about 10% unlabeled (visibility 0, NaN coordinates)."""
    rng = np.random.default_rng(seed)
    keypoints = np.empty((BATCH, num_individuals, NUM_KPTS, 3), dtype=np.float32)
    keypoints[..., :2] = rng.uniform(0, IMAGE_SIZE - 1, size=(BATCH, num_individuals, NUM_KPTS, 2))
    keypoints[..., 2] = rng.choice([1.0, 2.0], size=(BATCH, num_individuals, NUM_KPTS))
    unlabeled = rng.random((BATCH, num_individuals, NUM_KPTS)) < UNLABELED_FRACTION
    keypoints[unlabeled] = (np.nan, np.nan, 0.0)
    return keypoints


def reference_targets(keypoints: np.ndarray, height: int, width: int, stride: float) -> dict[str, np.ndarray]:
    """Per-keypoint numpy loops: Gaussian max over individuals, locref from the nearest one."""
    batch, num_ind, num_kpts, _ = keypoints.shape
    sigma = 2.0 / 3.0 * POS_DIST_THRESH
    ys = (np.arange(height) + 0.5) * stride - 0.5
    xs = (np.arange(width) + 0.5) * stride - 0.5
    heatmap = np.zeros((batch, num_kpts, height, width))
    nearest_sq = np.full((batch, num_kpts, height, width), np.inf)
    offsets = np.zeros((batch, num_kpts, 2, height, width))
    for b in range(batch):
        for n in range(num_ind):
            for k in range(num_kpts):
                x, y, vis = keypoints[b, n, k].astype(np.float64)
                if vis <= 0:
                    continue
                dx = np.broadcast_to(x - xs[None, :], (height, width))
                dy = np.broadcast_to(y - ys[:, None], (height, width))
                dist_sq = dx**2 + dy**2
                np.maximum(heatmap[b, k], np.exp(-dist_sq / (2 * sigma**2)), out=heatmap[b, k])
                closer = dist_sq < nearest_sq[b, k]
                nearest_sq[b, k][closer] = dist_sq[closer]
                offsets[b, k, 0][closer] = dx[closer]
                offsets[b, k, 1][closer] = dy[closer]
    within = (nearest_sq <= POS_DIST_THRESH**2).astype(np.float64)
    locref = (offsets / LOCREF_STD * within[:, :, None]).reshape(batch, 2 * num_kpts, height, width)
    labeled = (keypoints[..., 2] > 0).any(axis=1).astype(np.float64)[..., None, None]
    return {"heatmap": heatmap, "heatmap_weights": labeled, "locref": locref,
            "locref_weights": np.repeat(within, 2, axis=1)}


def ours_targets(generator: HeatmapGaussianGenerator, keypoints: torch.Tensor, outputs: dict) -> dict[str, torch.Tensor]:
    targets = generator(keypoints, outputs, STRIDE)
    return {"heatmap": targets["heatmap"]["target"], "heatmap_weights": targets["heatmap"]["weights"],
            "locref": targets["locref"]["target"], "locref_weights": targets["locref"]["weights"]}


def run_case(num_individuals: int, repeats: int) -> dict[str, float]:
    grid = IMAGE_SIZE // STRIDE
    keypoints_np = make_keypoints(num_individuals, seed=num_individuals)
    keypoints = torch.from_numpy(keypoints_np)
    outputs = {"heatmap": torch.zeros(BATCH, NUM_KPTS, grid, grid)}
    generator = HeatmapGaussianGenerator(num_heatmaps=NUM_KPTS, pos_dist_thresh=POS_DIST_THRESH,
                                         generate_locref=True, locref_std=LOCREF_STD)

    ours = ours_targets(generator, keypoints, outputs)
    reference = reference_targets(keypoints_np, grid, grid, STRIDE)
    max_diff = max(float(np.abs(ours[name].double().numpy() - reference[name]).max()) for name in reference)
    assert max_diff < 1e-4, f"N={num_individuals}: outputs disagree, max abs diff {max_diff:.3g}"
    assert all(torch.isfinite(t).all() for t in ours.values())

    ours_s = median_time(lambda: ours_targets(generator, keypoints, outputs), repeats, warmup=2)
    ref_s = median_time(lambda: reference_targets(keypoints_np, grid, grid, STRIDE), max(3, repeats // 2))
    return {"N": num_individuals, "ours_ms": ours_s * 1e3, "ref_ms": ref_s * 1e3,
            "speedup": ref_s / ours_s, "max_diff": max_diff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed repeats per implementation (median)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: on the shared 2-core CPU, 2 threads spin when another "
                             "job runs, measured 128 ms vs 7 ms per batch)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"Gaussian + locref targets: B={BATCH}, {IMAGE_SIZE}x{IMAGE_SIZE} input, stride {STRIDE} "
          f"({IMAGE_SIZE // STRIDE}x{IMAGE_SIZE // STRIDE} grid), K={NUM_KPTS}, pos_dist_thresh={POS_DIST_THRESH}, "
          f"{UNLABELED_FRACTION:.0%} unlabeled")
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; median of {args.repeats} runs (ours), "
          f"{max(3, args.repeats // 2)} runs (numpy reference)")
    rows = [run_case(n, args.repeats) for n in (1, 8)]
    header = f"{'case':<18}{'ours (ms)':>12}{'numpy ref (ms)':>17}{'ref/ours':>11}{'max |diff|':>13}"
    print(header)
    print("-" * len(header))
    for row in rows:
        case = "single (N=1)" if row["N"] == 1 else f"multi (N={row['N']})"
        print(f"{case:<18}{row['ours_ms']:>12.2f}{row['ref_ms']:>17.2f}{row['speedup']:>10.2f}x{row['max_diff']:>13.2e}")
    print("outputs agree (max |diff| < 1e-4): heatmap, heatmap weights, locref, locref weights")


if __name__ == "__main__":
    main()
