"""Benchmark: batched DEKR targets vs per-individual/per-keypoint numpy references, and DEKR decoding.

Times ``DEKRGenerator`` on a batch of 8 images of 256×256 pixels at stride 4
(64×64 grid) with K=17 keypoints, for one animal (N=1) and six (N=6),
against two straightforward numpy implementations that loop over batch ×
individual × keypoint, computing Gaussians on the whole grid: the "grid"
reference also writes each individual's offsets with numpy over the grid,
the "per-pixel" one loops over the cells around each center as DEKR's and
DeepLabCut's generators do. All use the same convention (cell centers at
``(j + 0.5) * stride - 0.5``, centers = mean of labeled keypoints, offsets
in grid cells, nearest center within ``center_radius``); the outputs are
checked to agree before anything is timed. Then times ``DEKRPredictor``
decoding the targets (as if they were head outputs).

Run: ``python benchmarks/dekr.py [--repeats 9] [--threads N]``. On glibc, the
multi-megabyte buffers freed after each call go back to the OS and are
page-faulted in again on the next one (measured once: ours at N=1 took 12 ms,
3 ms without it); ``MALLOC_MMAP_THRESHOLD_=2000000000 MALLOC_TRIM_THRESHOLD_=2000000000
python benchmarks/dekr.py`` keeps them, as a long-running process or the CUDA
caching allocator would.
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Callable

import numpy as np
import torch

from lightning_pose_arch.models.predictors import DEKRPredictor
from lightning_pose_arch.models.target_generators import DEKRGenerator
from timing import median_time

BATCH, NUM_KPTS, IMAGE_SIZE, STRIDE = 8, 17, 256, 4
SIGMA, CENTER_SIGMA, CENTER_RADIUS = 8.0, 16.0, 16.0
UNLABELED_FRACTION = 0.1


def make_keypoints(num_individuals: int, seed: int = 0) -> np.ndarray:
    """``[B, N, K, 3]`` animals (keypoints within 40 px of a center); about 10% unlabeled (NaN)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(48, IMAGE_SIZE - 48, size=(BATCH, num_individuals, 1, 2))
    keypoints = np.empty((BATCH, num_individuals, NUM_KPTS, 3), dtype=np.float32)
    keypoints[..., :2] = centers + rng.uniform(-40, 40, size=(BATCH, num_individuals, NUM_KPTS, 2))
    keypoints[..., 2] = rng.choice([1.0, 2.0], size=(BATCH, num_individuals, NUM_KPTS))
    unlabeled = rng.random((BATCH, num_individuals, NUM_KPTS)) < UNLABELED_FRACTION
    keypoints[unlabeled] = (np.nan, np.nan, 0.0)
    return keypoints


def gaussian(x: float, y: float, xs: np.ndarray, ys: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-((x - xs[None, :]) ** 2 + (y - ys[:, None]) ** 2) / (2 * sigma**2))


def claim_grid(offset: np.ndarray, weights: np.ndarray, nearest_sq: np.ndarray, center: np.ndarray,
               points: dict[int, np.ndarray], cells: tuple[np.ndarray, np.ndarray], stride: float) -> None:
    """One individual's offsets on the cells nearer its center than any earlier one (numpy over the grid)."""
    cell_x, cell_y = cells
    dist_sq = (center[0] - cell_x) ** 2 + (center[1] - cell_y) ** 2
    owned = dist_sq < nearest_sq
    nearest_sq[owned] = dist_sq[owned]
    offset[:, owned] = 0.0
    weights[:, owned] = 0.0
    for k, (x, y) in points.items():
        offset[2 * k][owned] = (x - cell_x[owned]) / stride
        offset[2 * k + 1][owned] = (y - cell_y[owned]) / stride
        weights[2 * k:2 * k + 2][:, owned] = 1.0


def claim_per_pixel(offset: np.ndarray, weights: np.ndarray, nearest_sq: np.ndarray, center: np.ndarray,
                    points: dict[int, np.ndarray], cells: tuple[np.ndarray, np.ndarray], stride: float) -> None:
    """As :func:`claim_grid`, looping over the cells around the center (DEKR's and DeepLabCut's generators)."""
    xs, ys = cells[0][0], cells[1][:, 0]
    for row in np.flatnonzero(np.abs(ys - center[1]) <= CENTER_RADIUS):
        for col in np.flatnonzero(np.abs(xs - center[0]) <= CENTER_RADIUS):
            dist_sq = (center[0] - xs[col]) ** 2 + (center[1] - ys[row]) ** 2
            if dist_sq >= nearest_sq[row, col]:
                continue
            nearest_sq[row, col] = dist_sq
            offset[:, row, col] = 0.0
            weights[:, row, col] = 0.0
            for k, (x, y) in points.items():
                offset[2 * k:2 * k + 2, row, col] = ((x - xs[col]) / stride, (y - ys[row]) / stride)
                weights[2 * k:2 * k + 2, row, col] = 1.0


def reference_targets(
    keypoints: np.ndarray, size: int, stride: float, claim: Callable = claim_grid
) -> dict[str, np.ndarray]:
    """Loops over batch × individual × keypoint: Gaussian maxima on the grid, offsets from the nearest center."""
    batch, num_ind, num_kpts, _ = keypoints.shape
    xs = ys = (np.arange(size) + 0.5) * stride - 0.5
    cells = np.meshgrid(xs, ys)  # cell_x, cell_y [size, size]
    heatmap = np.zeros((batch, num_kpts + 1, size, size))
    offset = np.zeros((batch, 2 * num_kpts, size, size))
    offset_weights = np.zeros_like(offset)
    for b in range(batch):
        nearest_sq = np.full((size, size), np.nextafter(CENTER_RADIUS**2, np.inf))  # the radius itself is inside
        for n in range(num_ind):
            points = {k: keypoints[b, n, k, :2].astype(np.float64)
                      for k in range(num_kpts) if keypoints[b, n, k, 2] > 0}
            if not points:
                continue
            for k, (x, y) in points.items():
                np.maximum(heatmap[b, k], gaussian(x, y, xs, ys, SIGMA), out=heatmap[b, k])
            center = np.mean(list(points.values()), axis=0)
            np.maximum(heatmap[b, num_kpts], gaussian(*center, xs, ys, CENTER_SIGMA), out=heatmap[b, num_kpts])
            claim(offset[b], offset_weights[b], nearest_sq, center, points, cells, stride)
    labeled = keypoints[..., 2] > 0
    heatmap_weights = np.concatenate([labeled.any(axis=1), labeled.any(axis=(1, 2))[:, None]], axis=1)
    heatmap_weights = heatmap_weights.astype(np.float64)[..., None, None]
    return {"heatmap": heatmap, "heatmap_weights": heatmap_weights, "offset": offset, "offset_weights": offset_weights}


def ours_targets(generator: DEKRGenerator, keypoints: torch.Tensor, outputs: dict) -> dict[str, torch.Tensor]:
    targets = generator(keypoints, outputs, STRIDE)
    return {"heatmap": targets["heatmap"]["target"], "heatmap_weights": targets["heatmap"]["weights"],
            "offset": targets["offset"]["target"], "offset_weights": targets["offset"]["weights"]}


def run_case(num_individuals: int, repeats: int) -> dict[str, float]:
    grid = IMAGE_SIZE // STRIDE
    keypoints_np = make_keypoints(num_individuals, seed=num_individuals)
    keypoints = torch.from_numpy(keypoints_np)
    outputs = {"heatmap": torch.zeros(BATCH, NUM_KPTS + 1, grid, grid),
               "offset": torch.zeros(BATCH, 2 * NUM_KPTS, grid, grid)}
    generator = DEKRGenerator(num_keypoints=NUM_KPTS, sigma=SIGMA, center_sigma=CENTER_SIGMA,
                              center_radius=CENTER_RADIUS)

    ours = ours_targets(generator, keypoints, outputs)
    max_diff = 0.0
    for claim in (claim_grid, claim_per_pixel):
        reference = reference_targets(keypoints_np, grid, STRIDE, claim)
        diff = max(float(np.abs(ours[name].double().numpy() - reference[name]).max()) for name in reference)
        assert diff < 1e-4, f"N={num_individuals}: outputs disagree with {claim.__name__}, max abs diff {diff:.3g}"
        max_diff = max(max_diff, diff)

    predictor = DEKRPredictor(max_individuals=10)
    decoded = {"heatmap": ours["heatmap"], "offset": ours["offset"]}
    found = (predictor(decoded, STRIDE)["keypoints"][..., 2].sum(-1) > 0).sum(-1)
    assert found.min() >= 1, "the predictor finds no animal in some image"

    ours_s = median_time(lambda: ours_targets(generator, keypoints, outputs), repeats, warmup=2)
    ref_runs = max(3, repeats // 2)
    grid_s = median_time(lambda: reference_targets(keypoints_np, grid, STRIDE, claim_grid), ref_runs)
    pixel_s = median_time(lambda: reference_targets(keypoints_np, grid, STRIDE, claim_per_pixel), ref_runs)
    decode_s = median_time(lambda: predictor(decoded, STRIDE), repeats, warmup=2)
    return {"N": num_individuals, "ours_ms": ours_s * 1e3, "grid_ms": grid_s * 1e3, "pixel_ms": pixel_s * 1e3,
            "max_diff": max_diff, "decode_ms": decode_s * 1e3, "found": float(found.float().mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed repeats per implementation (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: the CPU is shared)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"DEKR targets: B={BATCH}, {IMAGE_SIZE}x{IMAGE_SIZE} input, stride {STRIDE} ({IMAGE_SIZE // STRIDE}x"
          f"{IMAGE_SIZE // STRIDE} grid), K={NUM_KPTS}, sigma={SIGMA}, center_sigma={CENTER_SIGMA}, "
          f"center_radius={CENTER_RADIUS}, {UNLABELED_FRACTION:.0%} unlabeled")
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; median of {args.repeats} runs (ours, "
          f"decode), {max(3, args.repeats // 2)} runs (numpy reference)")
    rows = [run_case(n, args.repeats) for n in (1, 6)]
    header = (f"{'case':<6}{'ours (ms)':>10}{'grid ref (ms)':>15}{'grid/ours':>11}{'per-pixel ref (ms)':>20}"
              f"{'pixel/ours':>12}{'max |diff|':>12}{'decode (ms)':>13}")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{'N=' + str(row['N']):<6}{row['ours_ms']:>10.2f}"
              f"{row['grid_ms']:>15.2f}{row['grid_ms'] / row['ours_ms']:>10.1f}x"
              f"{row['pixel_ms']:>20.2f}{row['pixel_ms'] / row['ours_ms']:>11.1f}x"
              f"{row['max_diff']:>12.2e}{row['decode_ms']:>13.2f}")
    found = ", ".join(f"{row['found']:.2f} of {row['N']}" for row in rows)
    print(f"outputs agree (max |diff| < 1e-4): heatmap, heatmap weights, offset, offset weights; "
          f"animals decoded from the targets per image (random centers may fall within one NMS window): {found}")


if __name__ == "__main__":
    main()
