"""DEKR encode → decode round trip: generator targets fed to the predictor give every animal back, grouped."""

from __future__ import annotations

import pytest
import torch

from lightning_pose_arch.models.predictors import DEKRPredictor
from lightning_pose_arch.models.target_generators import DEKRGenerator

HEIGHT, WIDTH = 144, 176
SPACING, JITTER = 44.0, 5.0  # lattice of centers; Chebyshev separation ≥ 34 px > the 5×5 NMS window at stride 8
LATTICE = [(SPACING * (1 + i % 3), 48.0 + SPACING * (i // 3)) for i in range(6)]
REACH = 26.0  # keypoints 0-3 reach ±REACH px from the center: neighbours' bodies overlap (2 · REACH > SPACING)
NUM_KPTS = 5


def synthetic_animals(num_animals: int, seed: int) -> torch.Tensor:
    """``[N, K, 3]`` animals on distinct lattice sites; each one's keypoints average to its (jittered) site."""
    generator = torch.Generator().manual_seed(seed)
    sites = torch.tensor(LATTICE)[torch.randperm(len(LATTICE), generator=generator)[:num_animals]]
    centers = sites + (torch.rand(num_animals, 2, generator=generator) * 2 - 1) * JITTER
    spread = torch.tensor([[REACH, 0.0], [-REACH, 0.0], [0.0, REACH], [0.0, -REACH], [0.0, 0.0]])
    offsets = spread + (torch.rand(num_animals, NUM_KPTS, 2, generator=generator) * 2 - 1) * 4.0
    xy = centers[:, None] + offsets - offsets.mean(dim=1, keepdim=True)
    return torch.cat([xy, torch.full((num_animals, NUM_KPTS, 1), 2.0)], dim=-1)


def batch_of_animals(num_animals: int, seed: int) -> torch.Tensor:
    """Two images: ``num_animals``, and one fewer (at least one) padded with an unlabeled individual."""
    first = synthetic_animals(num_animals, seed)
    second = torch.full_like(first, float("nan"))
    second[..., 2] = 0.0
    kept = max(num_animals - 1, 1)
    second[:kept] = synthetic_animals(kept, seed + 100)
    return torch.stack([first, second])


def encode_decode(keypoints: torch.Tensor, stride: int, max_individuals: int = 8) -> torch.Tensor:
    generator = DEKRGenerator(num_keypoints=NUM_KPTS, sigma=8.0, center_sigma=16.0, center_radius=16.0)
    grid = (HEIGHT // stride, WIDTH // stride)
    outputs = {"heatmap": torch.zeros(keypoints.shape[0], NUM_KPTS + 1, *grid),
               "offset": torch.zeros(keypoints.shape[0], 2 * NUM_KPTS, *grid)}
    targets = generator(keypoints, outputs, stride)
    decoded = {name: target["target"] for name, target in targets.items()}  # targets as if they were outputs
    return DEKRPredictor(max_individuals=max_individuals)(decoded, stride)["keypoints"]


def assert_recovered(predicted: torch.Tensor, truth: torch.Tensor) -> None:
    """Each found individual matches exactly one true individual (labeled keypoints within 1 px), one-to-one."""
    present = (truth[..., 2] > 0).any(dim=-1)
    truth = truth[present]
    found = predicted[..., 2].sum(dim=-1) > 0
    assert int(found.sum()) == len(truth), f"found {int(found.sum())} individuals, expected {len(truth)}"
    assert predicted[~found].abs().sum() == 0  # unused slots are all zeros
    labeled = truth[..., 2] > 0  # [N, K]
    error = (predicted[found][:, None, :, :2] - truth[None, :, :, :2]).abs().amax(dim=-1)  # [found, N, K]
    error = error.masked_fill(~labeled[None], 0.0).amax(dim=-1)  # [found, N]
    match = error < 1.0
    assert match.sum(dim=1).eq(1).all() and match.sum(dim=0).eq(1).all(), f"grouping is not one-to-one:\n{error}"
    assert error[match].max().item() < 1e-3
    assert predicted[found][..., 2][labeled[match.long().argmax(dim=1)]].min().item() > 0.3  # rescored on the maps


@pytest.mark.parametrize("stride", [4, 8])
@pytest.mark.parametrize("num_animals", [1, 2, 3, 4, 5, 6])
def test_round_trip_recovers_every_animal(num_animals, stride):
    keypoints = batch_of_animals(num_animals, seed=10 * num_animals + stride)
    predicted = encode_decode(keypoints, stride)
    assert predicted.shape == (2, 8, NUM_KPTS, 3)
    for image in range(2):
        assert_recovered(predicted[image], keypoints[image])


def test_animals_touch():
    """The setup really is crowded: neighbours' keypoint boxes overlap."""
    animals = synthetic_animals(6, seed=0)
    low, high = animals[..., :2].amin(dim=1), animals[..., :2].amax(dim=1)  # [N, 2]
    overlap = (torch.minimum(high[:, None], high[None]) > torch.maximum(low[:, None], low[None])).all(dim=-1)
    assert overlap.fill_diagonal_(False).sum(dim=1).ge(1).all()


@pytest.mark.parametrize("stride", [4, 8])
def test_round_trip_with_unlabeled_keypoints(stride):
    keypoints = batch_of_animals(6, seed=stride)
    generator = torch.Generator().manual_seed(stride)
    dropped = (torch.rand(keypoints.shape[:3], generator=generator) < 0.3) & (torch.arange(NUM_KPTS) == 4)
    keypoints[dropped] = torch.tensor([float("nan"), float("nan"), 0.0])
    assert dropped.any()
    predicted = encode_decode(keypoints, stride)
    for image in range(2):
        assert_recovered(predicted[image], keypoints[image])


def test_fewer_slots_keep_the_best_animals():
    keypoints = batch_of_animals(6, seed=3)
    predicted = encode_decode(keypoints, 4, max_individuals=3)
    assert predicted.shape == (2, 3, NUM_KPTS, 3)
    assert (predicted[..., 2].sum(dim=-1) > 0).all()
