"""SimCCGenerator: exact 1-D Gaussians on a hand-made case, normalization, missing keypoints, checks."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_pose_arch.models.target_generators import TARGET_GENERATORS, SimCCGenerator


def simcc_outputs(batch: int, num_kpts: int, height: int, width: int, ratio: float) -> dict[str, torch.Tensor]:
    return {"x": torch.zeros(batch, num_kpts, int(width * ratio)), "y": torch.zeros(batch, num_kpts, int(height * ratio))}


def test_exact_values_on_a_hand_made_case():
    """4×3-pixel image, r = 2: x bins at 0, 0.5, …, 3.5; y bins at 0, 0.5, …, 2.5; σ = (1, 0.5) px."""
    generator = SimCCGenerator(sigma=(1.0, 0.5), split_ratio=2.0)
    keypoints = torch.tensor([[[[1.5, 1.0, 2.0]]]])  # [1, 1, 1, 3]
    targets = generator(keypoints, simcc_outputs(1, 1, 3, 4, 2.0), stride=0.5)
    expected_x = [math.exp(-((i / 2 - 1.5) ** 2) / 2) for i in range(8)]
    expected_y = [math.exp(-((i / 2 - 1.0) ** 2) / (2 * 0.25)) for i in range(6)]
    assert targets["x"]["target"][0, 0].tolist() == pytest.approx(expected_x, abs=1e-7)
    assert targets["y"]["target"][0, 0].tolist() == pytest.approx(expected_y, abs=1e-7)
    assert targets["x"]["target"][0, 0, 3].item() == 1.0 and targets["y"]["target"][0, 0, 2].item() == 1.0
    assert targets["x"]["weights"].shape == (1, 1, 1) and targets["x"]["weights"].item() == 1.0


def test_sub_pixel_keypoints_are_not_rounded_to_a_bin():
    keypoints = torch.tensor([[[[1.3, 0.0, 2.0]]]])
    target = SimCCGenerator(sigma=1.0, split_ratio=2.0)(keypoints, simcc_outputs(1, 1, 3, 4, 2.0), 0.5)["x"]["target"]
    assert target[0, 0].argmax().item() == 3  # bin center 1.5, the nearest
    assert target[0, 0, 3].item() == pytest.approx(math.exp(-(0.2**2) / 2))
    assert target[0, 0, 2].item() == pytest.approx(math.exp(-(0.3**2) / 2))


def test_normalize_makes_each_distribution_sum_to_one():
    keypoints = torch.tensor([[[[10.2, 5.7, 2.0], [0.0, 30.9, 1.0]]]])
    targets = SimCCGenerator(sigma=2.0, split_ratio=3.0, normalize=True)(keypoints, simcc_outputs(1, 2, 32, 24, 3.0), 1 / 3)
    for axis in ("x", "y"):
        torch.testing.assert_close(targets[axis]["target"].sum(-1), torch.ones(1, 2))


def test_missing_and_far_outside_keypoints_get_zero_target_and_weight():
    nan = float("nan")
    keypoints = torch.tensor([[[[nan, nan, 0.0], [5.0, 5.0, 2.0], [-10.0, 5.0, 2.0], [-1.0, 5.0, 2.0], [5.0, 40.0, 2.0]]]])
    targets = SimCCGenerator(sigma=2.0, split_ratio=2.0)(keypoints, simcc_outputs(1, 5, 16, 16, 2.0), 0.5)
    # σ = 2 px: -10 and 40 are more than 3σ outside the bins; -1 is not
    expected_weights = [0.0, 1.0, 0.0, 1.0, 0.0]
    for axis in ("x", "y"):
        assert targets[axis]["weights"][0, :, 0].tolist() == expected_weights
        assert torch.isfinite(targets[axis]["target"]).all()
        assert targets[axis]["target"][0, [0, 2, 4]].abs().sum().item() == 0.0


def test_batched_keypoints_and_output_dtype_device():
    keypoints = torch.rand(3, 1, 4, 3) * 15
    keypoints[..., 2] = 2.0
    outputs = {name: value.double() for name, value in simcc_outputs(3, 4, 16, 16, 2.0).items()}
    targets = TARGET_GENERATORS.build(dict(type="SimCCGenerator", sigma=1.5))(keypoints, outputs, 0.5)
    assert targets["x"]["target"].shape == (3, 4, 32) and targets["y"]["target"].shape == (3, 4, 32)
    assert targets["x"]["target"].dtype == torch.float64
    peaks = targets["x"]["target"].argmax(-1)
    torch.testing.assert_close(peaks, torch.round(keypoints[:, 0, :, 0] * 2).long())


def test_several_individuals_raise_and_point_to_top_down_crops():
    keypoints = torch.zeros(1, 2, 3, 3)
    with pytest.raises(ValueError, match="top-down"):
        SimCCGenerator()(keypoints, simcc_outputs(1, 3, 8, 8, 2.0), 0.5)


@pytest.mark.parametrize("kwargs", [dict(sigma=0.0), dict(sigma=(1.0, -1.0)), dict(sigma=(1.0, 2.0, 3.0)), dict(split_ratio=0)])
def test_invalid_options_raise_when_built(kwargs):
    with pytest.raises(ValueError, match="SimCCGenerator"):
        SimCCGenerator(**kwargs)
