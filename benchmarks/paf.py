"""Benchmark: batched part affinity field targets and limb scoring vs straightforward loop references.

1. PAF targets: ``PAFGenerator.fields`` on a batch of 8 images of 256×256
   pixels at stride 4 (64×64 grid), K=6 keypoints in a chain (5 edges),
   for N=1 and N=6 individuals, against two references that loop over
   batch × individual × edge: "loop" then loops in python over the cells of
   the limb's bounding box, "numpy" computes on the whole grid at once (as
   DeepLabCut's generator does). Same convention: cell centers at
   ``(j + 0.5) * stride - 0.5``; a cell gets the limb's unit vector when its
   center projects between the ends and lies within ``paf_width`` px of the
   line; overlapping limbs are averaged. Fields and weights are checked to
   agree before timing.
2. Limb scoring and grouping: ``PartAffinityFieldPredictor`` on the exact
   targets of 6 animals per image with 4 extra peaks per keypoint (10 peaks
   each, so 100 candidate pairs per edge), against python loops over
   images × edges × candidate pairs × samples with hand-written bilinear
   sampling. The scores must agree; the full decode (peaks, scores,
   grouping; the grouping code is shared; OpenPose's criterion of 80% of
   the samples above 0.05) must give the same keypoints, the 6 animals
   first.

Run: ``python benchmarks/paf.py [--repeats 9] [--threads N]``
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Callable

import numpy as np
import torch

from lightning_pose_arch.models.predictors import PartAffinityFieldPredictor
from lightning_pose_arch.models.predictors.paf import find_peaks, limb_scores, peak_positions
from lightning_pose_arch.models.predictors.paf_assembly import assemble
from lightning_pose_arch.models.target_generators import PAFGenerator
from timing import median_time

BATCH, NUM_KPTS, IMAGE_SIZE, STRIDE, PAF_WIDTH = 8, 6, 256, 4, 20.0  # PAFGenerator's default width
EDGES = [(k, k + 1) for k in range(NUM_KPTS - 1)]
GRID = IMAGE_SIZE // STRIDE
NUM_SAMPLES, EXTRA_PEAKS = 10, 4


def make_animals(num_animals: int, seed: int) -> np.ndarray:
    """``[B, N, K, 3]`` chains (limbs of 10–13 px, turning up to 0.3 rad), one per cell of a 3×2 grid of the image.

    Each chain is centered in its cell (at most 33 px from the center, the cells
    are 85×128 px), so animals never touch and the decode can be checked exactly.
    """
    rng = np.random.default_rng(seed)
    keypoints = np.zeros((BATCH, num_animals, NUM_KPTS, 3), dtype=np.float32)
    cell = np.array([IMAGE_SIZE / 3, IMAGE_SIZE / 2])
    for b in range(BATCH):
        slots = rng.permutation(6)[:num_animals]
        centers = (np.stack([slots % 3, slots // 3], axis=-1) + 0.5) * cell
        turns = rng.uniform(-0.3, 0.3, (num_animals, NUM_KPTS - 1))
        angles = rng.uniform(0, 2 * np.pi, (num_animals, 1)) + np.cumsum(turns, axis=1)
        steps = np.stack([np.cos(angles), np.sin(angles)], -1) * rng.uniform(10, 13, (num_animals, NUM_KPTS - 1, 1))
        chain = np.concatenate([np.zeros((num_animals, 1, 2)), np.cumsum(steps, axis=1)], axis=1)
        keypoints[b, :, :, :2] = centers[:, None] + chain - chain.mean(axis=1, keepdims=True)
    keypoints[..., 2] = 2.0
    return keypoints


def reference_fields(keypoints: np.ndarray, limb_cells: Callable[..., np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Loops over batch × individual × edge: fields ``[B, E, 2, h, w]`` and edges labeled ``[B, E]``.

    ``limb_cells(x1, y1, ux, uy, length)`` marks the cells ``[h, w]`` of one limb.
    """
    total = np.zeros((BATCH, len(EDGES), 2, GRID, GRID))
    count = np.zeros((BATCH, len(EDGES), GRID, GRID))
    labeled = np.zeros((BATCH, len(EDGES)))
    for b in range(BATCH):
        for n in range(keypoints.shape[1]):
            for e, (k1, k2) in enumerate(EDGES):
                (x1, y1, v1), (x2, y2, v2) = keypoints[b, n, [k1, k2]].astype(np.float64)
                if v1 <= 0 or v2 <= 0:
                    continue
                labeled[b, e] = 1.0
                length = np.hypot(x2 - x1, y2 - y1)
                if length > 0:
                    ux, uy = (x2 - x1) / length, (y2 - y1) / length
                    inside = limb_cells(x1, y1, ux, uy, length)
                    total[b, e, 0][inside] += ux
                    total[b, e, 1][inside] += uy
                    count[b, e][inside] += 1
    return total / np.maximum(count, 1)[:, :, None], labeled


def loop_cells(x1: float, y1: float, ux: float, uy: float, length: float) -> np.ndarray:
    """Python loop over the cells of the limb's bounding box grown by ``PAF_WIDTH``."""
    inside = np.zeros((GRID, GRID), dtype=bool)
    ends = np.array([[x1, y1], [x1 + ux * length, y1 + uy * length]])
    lo = np.floor((ends.min(axis=0) - PAF_WIDTH) / STRIDE).astype(int).clip(0, GRID - 1)
    hi = np.ceil((ends.max(axis=0) + PAF_WIDTH) / STRIDE).astype(int).clip(0, GRID - 1)
    for row in range(lo[1], hi[1] + 1):
        for col in range(lo[0], hi[0] + 1):
            dx, dy = (col + 0.5) * STRIDE - 0.5 - x1, (row + 0.5) * STRIDE - 0.5 - y1
            along, across = dx * ux + dy * uy, dy * ux - dx * uy
            inside[row, col] = 0 <= along <= length and abs(across) <= PAF_WIDTH
    return inside


def grid_cells(x1: float, y1: float, ux: float, uy: float, length: float) -> np.ndarray:
    """Numpy over the whole grid at once (as DeepLabCut's generator)."""
    centers = (np.arange(GRID) + 0.5) * STRIDE - 0.5
    dx, dy = centers[None, :] - x1, centers[:, None] - y1
    along, across = dx * ux + dy * uy, dy * ux - dx * uy
    return (along >= 0) & (along <= length) & (np.abs(across) <= PAF_WIDTH)


def empty_outputs() -> dict[str, torch.Tensor]:
    return {"heatmap": torch.zeros(BATCH, NUM_KPTS, GRID, GRID), "paf": torch.zeros(BATCH, 2 * len(EDGES), GRID, GRID)}


def run_targets(num_animals: int, repeats: int) -> dict[str, float]:
    keypoints_np = make_animals(num_animals, seed=num_animals)
    keypoints = torch.from_numpy(keypoints_np)
    generator = PAFGenerator(num_heatmaps=NUM_KPTS, edges=EDGES, paf_width=PAF_WIDTH)
    field, labeled = generator.fields(keypoints, (GRID, GRID), STRIDE)
    max_diff = 0.0
    for limb_cells in (loop_cells, grid_cells):
        ref_field, ref_labeled = reference_fields(keypoints_np, limb_cells)
        max_diff = max(max_diff, float(np.abs(field.double().numpy() - ref_field).max()))
        assert max_diff < 1e-5 and np.array_equal(labeled.numpy(), ref_labeled > 0), f"N={num_animals}: {max_diff}"
    outputs = empty_outputs()
    ours_s = median_time(lambda: generator.fields(keypoints, (GRID, GRID), STRIDE), repeats, warmup=2)
    full_s = median_time(lambda: generator(keypoints, outputs, STRIDE), repeats, warmup=1)
    ref_s = median_time(lambda: reference_fields(keypoints_np, loop_cells), max(3, repeats // 3))
    numpy_s = median_time(lambda: reference_fields(keypoints_np, grid_cells), max(3, repeats // 3))
    return {"N": num_animals, "ours_ms": ours_s * 1e3, "full_ms": full_s * 1e3, "ref_ms": ref_s * 1e3,
            "numpy_ms": numpy_s * 1e3, "max_diff": max_diff}


def bilinear(channel: np.ndarray, gx: float, gy: float) -> float:
    """``channel [h, w]`` at grid point ``(gx, gy)``, zero outside (as ``grid_sample(align_corners=True)``)."""
    x0, y0 = int(np.floor(gx)), int(np.floor(gy))
    value = 0.0
    for row, wy in ((y0, 1 - (gy - y0)), (y0 + 1, gy - y0)):
        for col, wx in ((x0, 1 - (gx - x0)), (x0 + 1, gx - x0)):
            if 0 <= row < channel.shape[0] and 0 <= col < channel.shape[1]:
                value += wy * wx * channel[row, col]
    return value


def reference_scores(paf: np.ndarray, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Loops over images × edges × candidate pairs × samples: mean dot products and support ``[B, E, P, P]``."""
    num_peaks = peaks.shape[2]
    scores = np.zeros((BATCH, len(EDGES), num_peaks, num_peaks))
    support = np.zeros_like(scores)
    for b in range(BATCH):
        for e, (k1, k2) in enumerate(EDGES):
            for i, (x1, y1) in enumerate(peaks[b, k1]):
                for j, (x2, y2) in enumerate(peaks[b, k2]):
                    length = np.hypot(x2 - x1, y2 - y1)
                    ux, uy = ((x2 - x1) / length, (y2 - y1) / length) if length > 0 else (0.0, 0.0)
                    dots = []
                    for s in range(NUM_SAMPLES):
                        t = (s + 0.5) / NUM_SAMPLES
                        gx, gy = (x1 + t * (x2 - x1) + 0.5) / STRIDE - 0.5, (y1 + t * (y2 - y1) + 0.5) / STRIDE - 0.5
                        dots.append(bilinear(paf[b, 2 * e], gx, gy) * ux + bilinear(paf[b, 2 * e + 1], gx, gy) * uy)
                    scores[b, e, i, j] = np.mean(dots)
                    support[b, e, i, j] = np.mean(np.array(dots) > 0.05)
    return scores, support


def decode_outputs(keypoints: np.ndarray, seed: int) -> dict[str, torch.Tensor]:
    """Exact targets of ``keypoints`` as outputs, plus ``EXTRA_PEAKS`` decoy peaks (0.5) per keypoint and image."""
    generator = PAFGenerator(num_heatmaps=NUM_KPTS, edges=EDGES, paf_width=PAF_WIDTH)
    targets = generator(torch.from_numpy(keypoints), empty_outputs(), STRIDE)
    outputs = {name: target["target"] for name, target in targets.items()}
    rng = np.random.default_rng(seed)
    for b in range(BATCH):
        for k in range(NUM_KPTS):
            for row, col in rng.integers(1, GRID - 1, (EXTRA_PEAKS, 2)):
                outputs["heatmap"][b, k, row, col] = max(0.5, float(outputs["heatmap"][b, k, row, col]) + 0.01)
    return outputs


def reference_decode(paf: np.ndarray, peaks: np.ndarray, valid: np.ndarray, scores: np.ndarray,
                     predictor: PartAffinityFieldPredictor) -> np.ndarray:
    """Keypoints ``[B, M, K, 3]`` from the peaks (``[B, K, P, 2]``, valid and scores ``[B, K, P]``) with
    :func:`reference_scores` and the predictor's own grouping."""
    ref_scores, ref_support = reference_scores(paf, peaks)
    result = np.zeros((BATCH, predictor.max_individuals, NUM_KPTS, 3))
    pairs = np.array(EDGES)
    for b in range(BATCH):
        edge_valid = valid[b, pairs[:, 0], :, None] & valid[b, pairs[:, 1], None, :]
        edge_valid &= ref_scores[b] > predictor.min_edge_score
        edge_valid &= ref_support[b] >= predictor.min_sample_fraction
        individuals = assemble(scores[b], valid[b], EDGES, ref_scores[b], edge_valid, predictor.matching, False)
        for slot, (members, _) in enumerate(individuals[: predictor.max_individuals]):
            present = np.nonzero(members >= 0)[0]
            result[b, slot, present, :2] = peaks[b, present, members[present]]
            result[b, slot, present, 2] = scores[b, present, members[present]]
    return result


def run_decode(repeats: int) -> dict[str, float]:
    keypoints = make_animals(6, seed=100)
    outputs = decode_outputs(keypoints, seed=101)
    predictor = PartAffinityFieldPredictor(edges=EDGES, max_peaks_per_keypoint=NUM_KPTS + EXTRA_PEAKS,
                                           num_samples=NUM_SAMPLES, min_sample_fraction=0.8)
    scores, index, valid = find_peaks(outputs["heatmap"], predictor.nms_kernel, predictor.peak_threshold,
                                      predictor.max_peaks_per_keypoint)
    peaks = peak_positions(index, GRID, STRIDE, outputs["locref"], predictor.locref_std)
    num_valid = int(valid.sum(dim=-1).min())

    def ours_scores():
        return limb_scores(outputs["paf"], peaks, EDGES, STRIDE, NUM_SAMPLES, "bilinear", 0.05)

    paf_np, peaks_np = outputs["paf"].double().numpy(), peaks.double().numpy()
    score_diff = float(np.abs(ours_scores()[0].double().numpy() - reference_scores(paf_np, peaks_np)[0]).max())
    ours = predictor(outputs, STRIDE)["keypoints"]
    reference = (paf_np, peaks_np, valid.numpy(), scores.clamp(0, 1).double().numpy(), predictor)
    decode_diff = float(np.abs(ours.double().numpy() - reference_decode(*reference)).max())
    assert score_diff < 1e-4 and decode_diff < 1e-3, f"disagree: scores {score_diff:.3g}, keypoints {decode_diff:.3g}"
    error = (ours[:, :6, None, :, :2] - torch.from_numpy(keypoints)[:, None, :, :, :2]).abs().amax(dim=(-1, -2))
    matched = error.argmin(dim=2).sort(dim=1).values  # [B, 6]: the animal each of the 6 best individuals is
    assert error.amin(dim=2).max() < 0.1 and (matched == torch.arange(6)).all(), "the 6 best must be the 6 animals"
    ours_s = median_time(ours_scores, repeats, warmup=2)
    full_s = median_time(lambda: predictor(outputs, STRIDE), repeats, warmup=1)
    ref_s = median_time(lambda: reference_scores(paf_np, peaks_np), max(3, repeats // 3))
    ref_full_s = median_time(lambda: reference_decode(*reference), max(3, repeats // 3))
    return {"valid_peaks": num_valid, "ours_ms": ours_s * 1e3, "ref_ms": ref_s * 1e3, "speedup": ref_s / ours_s,
            "full_ms": full_s * 1e3, "ref_full_ms": ref_full_s * 1e3, "full_speedup": ref_full_s / full_s,
            "score_diff": score_diff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed repeats per implementation (median)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: the shared CPU is slower with 2 busy threads)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; median of {args.repeats} runs (ours), "
          f"{max(3, args.repeats // 3)} runs (loop references)")
    print(f"\n1. PAF targets: B={BATCH}, {IMAGE_SIZE}x{IMAGE_SIZE} input, stride {STRIDE} ({GRID}x{GRID} grid), "
          f"K={NUM_KPTS} chain ({len(EDGES)} edges), paf_width={PAF_WIDTH}")
    header = (f"{'case':<6}{'ours (ms)':>11}{'loop (ms)':>11}{'loop/ours':>11}{'numpy (ms)':>12}{'numpy/ours':>12}"
              f"{'max |diff|':>12}{'ours+heatmap+locref (ms)':>26}")
    print(header + "\n" + "-" * len(header))
    for row in (run_targets(n, args.repeats) for n in (1, 6)):
        loop_ratio, numpy_ratio = row["ref_ms"] / row["ours_ms"], row["numpy_ms"] / row["ours_ms"]
        print(f"{'N=' + str(row['N']):<6}{row['ours_ms']:>11.2f}{row['ref_ms']:>11.1f}{loop_ratio:>10.1f}x"
              f"{row['numpy_ms']:>12.1f}{numpy_ratio:>11.1f}x{row['max_diff']:>12.1e}{row['full_ms']:>26.2f}")
    row = run_decode(args.repeats)
    print(f"\n2. Decode: B={BATCH}, 6 animals + {EXTRA_PEAKS} decoys per keypoint ({row['valid_peaks']}+ peaks each), "
          f"K={NUM_KPTS} chain, {NUM_SAMPLES} samples per candidate limb")
    print(f"limb scoring : ours {row['ours_ms']:.2f} ms, loop ref {row['ref_ms']:.1f} ms, "
          f"ref/ours {row['speedup']:.1f}x (max |diff| {row['score_diff']:.1e})")
    print(f"full decode  : ours {row['full_ms']:.2f} ms, loop ref {row['ref_full_ms']:.1f} ms, "
          f"ref/ours {row['full_speedup']:.1f}x (same keypoints; grouping code shared)")


if __name__ == "__main__":
    main()
