"""TemporalLoss on hand-made clips: exact values, ε, confidence masking, gradients."""

from __future__ import annotations

import pytest
import torch

from lightning_pose_arch.models.consistency import CONSISTENCY_LOSSES, TemporalLoss


def clip(xs: list[float], scores: list[float] | None = None) -> torch.Tensor:
    """One clip, one keypoint moving along x: ``[1, T, 1, 3]``."""
    scores = scores or [1.0] * len(xs)
    return torch.tensor([[[[x, 0.0, s]] for x, s in zip(xs, scores)]])


def test_exact_value_above_epsilon() -> None:
    loss = TemporalLoss(epsilon=2.0)
    # jumps 3, 1, 10 → excess 1, 0, 8 → mean 3
    assert loss(clip([0.0, 3.0, 4.0, 14.0])).item() == pytest.approx(3.0)


def test_jumps_are_euclidean_in_pixels() -> None:
    keypoints = torch.tensor([[[[0.0, 0.0, 1.0]], [[3.0, 4.0, 1.0]]]])
    assert TemporalLoss(epsilon=0.0)(keypoints).item() == pytest.approx(5.0)


def test_zero_below_epsilon_with_zero_gradient() -> None:
    keypoints = clip([0.0, 1.0, 2.5, 1.0]).requires_grad_(True)
    value = TemporalLoss(epsilon=2.0)(keypoints)
    value.backward()
    assert value.item() == 0.0 and keypoints.grad.abs().sum().item() == 0.0


def test_low_confidence_frames_are_masked() -> None:
    # the 100 px jump into frame 2 has a frame below the threshold: only the 4 px pair 0→1 counts
    keypoints = clip([0.0, 4.0, 104.0], scores=[0.9, 0.8, 0.1])
    assert TemporalLoss(epsilon=1.0, confidence_threshold=0.5)(keypoints).item() == pytest.approx(3.0)
    all_masked = clip([0.0, 50.0], scores=[0.1, 0.1])
    assert TemporalLoss(confidence_threshold=0.5)(all_masked).item() == 0.0


def test_gradient_pulls_frames_together() -> None:
    keypoints = clip([0.0, 10.0]).requires_grad_(True)
    TemporalLoss(epsilon=0.0)(keypoints).backward()
    assert keypoints.grad[0, :, 0, 0].tolist() == pytest.approx([-1.0, 1.0])


def test_built_from_dict_and_warms_up() -> None:
    loss = CONSISTENCY_LOSSES.build({"type": "TemporalLoss", "epsilon": 3, "weight": 2.0, "warmup_epochs": 4})
    assert [loss.weight_at(epoch) for epoch in (0, 1, 4, 9)] == [0.0, 0.5, 2.0, 2.0]


@pytest.mark.parametrize(("warmup_epochs", "weights"), [(0, [0.0, 0.0, 2.0, 2.0, 2.0]), (2, [0.0, 0.0, 0.0, 1.0, 2.0])])
def test_start_epoch_delays_the_warm_up(warmup_epochs: int, weights: list[float]) -> None:
    loss = TemporalLoss(weight=2.0, warmup_epochs=warmup_epochs, start_epoch=2)
    assert [loss.weight_at(epoch) for epoch in range(5)] == weights


def test_single_frame_clip_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 frames"):
        TemporalLoss()(clip([0.0]))
