"""PAF encode → decode round trip: generator targets fed to the predictor give the individuals back."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_pose_arch.models.predictors import PartAffinityFieldPredictor
from lightning_pose_arch.models.target_generators import PAFGenerator

NUM_KPTS = 5
CHAIN = [(k, k + 1) for k in range(NUM_KPTS - 1)]
GRAPHS = {"chain": CHAIN, "complete": None}
GRID = (40, 48)  # h, w cells: non-square on purpose


def image_size(stride: int) -> tuple[int, int]:
    return GRID[0] * stride, GRID[1] * stride


def segment_distance(points: torch.Tensor, chain: torch.Tensor) -> torch.Tensor:
    """Distance ``[P]`` from each of ``points [P, 2]`` to the nearest segment joining two of ``chain [K, 2]``."""
    first, second = torch.triu_indices(len(chain), len(chain), offset=1)
    a, b = chain[first], chain[second]  # [S, 2]: every pair, so the complete graph's limbs too
    t = (((points[:, None] - a) * (b - a)).sum(-1) / ((b - a) ** 2).sum(-1)).clamp(0, 1)  # [P, S]
    return (points[:, None] - (a + t[..., None] * (b - a))).norm(dim=-1).amin(dim=1)


def random_animals(num_animals: int, stride: int, seed: int) -> torch.Tensor:
    """``[N, K, 3]`` chains of limbs 3–5 strides long, turning up to 60° at each joint.

    Same-type keypoints of different animals are at least 3 strides apart (closer
    ones can merge into one heatmap peak), and no keypoint lies within 2 strides
    of another animal's limbs (of the complete graph): a keypoint on another
    animal's limb makes a part of that limb score as high as the whole. So
    these animals never touch (none of the seeds used has crossing limbs);
    touching animals are the hand-made cases of :func:`touching_animals`.
    """
    generator = torch.Generator().manual_seed(seed)
    height, width = image_size(stride)
    margin = 2.0 * stride
    animals: list[torch.Tensor] = []
    while len(animals) < num_animals:
        rand = torch.rand(2 + NUM_KPTS, generator=generator, dtype=torch.float64)
        start = torch.stack([margin + rand[0] * (width - 2 * margin), margin + rand[1] * (height - 2 * margin)])
        turns = (rand[2:] - 0.5) * (2 * math.pi / 3)
        turns[0] = rand[2] * 2 * math.pi
        angles = turns[0] + torch.cumsum(turns[1:], 0)
        lengths = stride * (3 + 2 * torch.rand(NUM_KPTS - 1, generator=generator, dtype=torch.float64))
        steps = torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1) * lengths[:, None]
        xy = torch.cat([start[None], start + torch.cumsum(steps, 0)])
        inside = (xy >= margin).all() and (xy[:, 0] <= width - margin).all() and (xy[:, 1] <= height - margin).all()
        apart = all(segment_distance(xy, other[:, :2]).min() >= 2 * stride
                    and segment_distance(other[:, :2], xy).min() >= 2 * stride
                    and ((xy - other[:, :2]).norm(dim=-1) >= 3 * stride).all() for other in animals)
        if inside and apart:
            animals.append(torch.cat([xy, torch.full((NUM_KPTS, 1), 2.0, dtype=torch.float64)], dim=-1))
    return torch.stack(animals).float()


def round_trip(
    keypoints: torch.Tensor, stride: int, edges, matching: str, locref: bool = True, paf_width: float | None = None
) -> torch.Tensor:
    """Encode ``keypoints [B, N, K, 3]`` with ``PAFGenerator`` (fields 1 stride wide unless given); decode that."""
    generator = PAFGenerator(num_heatmaps=NUM_KPTS, edges=edges, paf_width=paf_width or stride,
                             pos_dist_thresh=max(17.0, stride),
                             generate_locref=locref)
    outputs = {"heatmap": torch.zeros(keypoints.shape[0], NUM_KPTS, *GRID),
               "paf": torch.zeros(keypoints.shape[0], 2 * len(generator.edges), *GRID)}
    targets = generator(keypoints, outputs, stride)
    predictor = PartAffinityFieldPredictor(edges=edges, matching=matching, location_refinement=locref)
    return predictor({name: target["target"] for name, target in targets.items()}, stride)["keypoints"]


def assert_same_individuals(predicted: torch.Tensor, truth: torch.Tensor, tolerance: float) -> None:
    """Each predicted individual ``[M, K, 3]`` equals one labeled individual ``[N, K, 3]`` (and vice versa)."""
    found = predicted[predicted[..., 2].sum(dim=-1) > 0]
    assert len(found) == len(truth), f"{len(found)} individuals found, {len(truth)} labeled"
    labeled = truth[..., 2] > 0
    matched = set()
    for individual in found:
        offsets = (individual[None, :, :2] - truth[..., :2]).abs().amax(dim=-1)  # [N, K]
        error = torch.where(labeled, offsets, 0.0).amax(dim=-1)  # NaN where unlabeled
        best = int(error.argmin())
        assert error[best] < tolerance, f"no labeled individual within {tolerance} px: errors {error.tolist()}"
        assert torch.equal(individual[:, 2] > 0, labeled[best]), "a keypoint found where none is labeled, or missed"
        matched.add(best)
    assert len(matched) == len(truth), "two predicted individuals matched the same labeled one"
    assert (predicted[len(found):] == 0).all(), "individuals come first, unused slots are zero"


@pytest.mark.parametrize("matching", ["hungarian", "greedy"])
@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("stride", [4, 8])
@pytest.mark.parametrize("num_animals", [1, 2, 3, 4, 5, 6])
def test_round_trip_recovers_random_individuals(num_animals, stride, graph, matching):
    keypoints = torch.stack([random_animals(num_animals, stride, seed=10 * num_animals + b) for b in range(2)])
    predicted = round_trip(keypoints, stride, GRAPHS[graph], matching)
    assert predicted.shape == (2, 10, NUM_KPTS, 3)
    for b in range(2):
        assert_same_individuals(predicted[b], keypoints[b], tolerance=0.1)


def touching_animals(kind: str, stride: int) -> torch.Tensor:
    """Two animals ``[1, 2, K, 3]``: side by side 3 strides apart (facing the same or opposite ways), or crossing."""
    steps = torch.arange(NUM_KPTS, dtype=torch.float32) * 6 * stride
    center = torch.tensor([GRID[1] * stride / 2, GRID[0] * stride / 2])
    along = torch.stack([steps - steps.mean(), torch.zeros(NUM_KPTS)], dim=-1)
    if kind in ("side_by_side", "head_to_tail"):
        first = along + torch.tensor([0.0, -1.5 * stride])
        second = (along if kind == "side_by_side" else along.flip(0)) + torch.tensor([0.0, 1.5 * stride])
    else:  # crossing at right angles, halfway between keypoints 1 and 2 of both animals
        first = along + torch.tensor([3.0 * stride, 0.0])
        second = along.flip(-1) + torch.tensor([0.0, 3.0 * stride])
    xy = torch.stack([first, second]) + center
    return torch.cat([xy, torch.full((2, NUM_KPTS, 1), 2.0)], dim=-1)[None]


@pytest.mark.parametrize("matching", ["hungarian", "greedy"])
@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("stride", [4, 8])
@pytest.mark.parametrize(("kind", "paf_width"), [("side_by_side", 2), ("head_to_tail", 2), ("crossing", 1)])
def test_round_trip_separates_touching_animals(kind, paf_width, stride, graph, matching):
    """Side by side, fields 2 strides wide overlap (and are averaged) along the animals' whole length.

    Crossing limbs need narrower fields (1 stride; true limbs then score 0.80,
    the diagonals 0.41): where fields 2 strides wide cross at right angles over
    two thirds of the limbs, the averaged field makes the diagonal from one
    animal's keypoint to the other's score 0.65 against 0.63 for the true limb
    (measured at strides 4 and 8), so the chain skeleton pairs them wrongly
    (the complete graph's other edges still group them right).
    """
    keypoints = touching_animals(kind, stride)
    predicted = round_trip(keypoints, stride, GRAPHS[graph], matching, paf_width=paf_width * stride)
    assert_same_individuals(predicted[0], keypoints[0], tolerance=0.1)


@pytest.mark.parametrize("stride", [4, 8])
def test_round_trip_without_locref_within_half_stride(stride):
    keypoints = random_animals(4, stride, seed=7)[None]
    predicted = round_trip(keypoints, stride, CHAIN, "hungarian", locref=False)
    assert_same_individuals(predicted[0], keypoints[0], tolerance=stride / 2 + 1e-4)


def test_round_trip_with_unlabeled_end_keypoint():
    """An unlabeled keypoint comes back as an empty slot; the rest of that individual stays together."""
    keypoints = random_animals(3, 4, seed=3)[None]
    keypoints[0, 1, -1] = torch.tensor([float("nan"), float("nan"), 0.0])
    predicted = round_trip(keypoints, 4, CHAIN, "hungarian")[0]
    assert_same_individuals(predicted, keypoints[0], tolerance=0.1)
    assert (predicted[..., -1, 2] > 0).sum() == 2
