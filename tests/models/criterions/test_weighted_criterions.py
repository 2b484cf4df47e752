"""Weighted criterions: exact numbers on hand-made cases, weight broadcasting, all-zero weights."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_pose_arch.models.criterions import (
    CRITERIONS,
    WeightedBCECriterion,
    WeightedHuberCriterion,
    WeightedMSECriterion,
)

# output [1, 2, 1, 2]: channel 0 = [1, 2], channel 1 = [3, 4]; target zeros
OUTPUT = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
TARGET = torch.zeros_like(OUTPUT)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        (torch.ones(1, 2, 1, 1), (1 + 4 + 9 + 16) / 4),
        (torch.tensor([1.0, 0.0]).reshape(1, 2, 1, 1), (1 + 4) / 2),  # channel weights broadcast over pixels
        (torch.tensor([3.0, 0.0]).reshape(1, 2, 1, 1), (1 + 4) / 2),  # a weighted mean: scale-free
        (torch.tensor([2.0, 1.0]).reshape(1, 2, 1, 1), (2 * 5 + 25) / (2 * 2 + 2)),
        (torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]]), (1 + 16) / 2),  # full-shape weights
        (torch.tensor(1.0), 7.5),  # scalar weight
    ],
    ids=["ones", "channel-mask", "channel-scaled", "channel-weighted", "elementwise", "scalar"],
)
def test_mse_exact(weights, expected):
    assert WeightedMSECriterion()(OUTPUT, TARGET, weights).item() == pytest.approx(expected)


def test_mse_against_nonzero_target_and_int_weights():
    target = torch.tensor([[[[1.0, 0.0]], [[1.0, 1.0]]]])
    weights = torch.tensor([1, 1], dtype=torch.int64).reshape(1, 2, 1, 1)
    # squared errors: 0, 4, 4, 9
    assert WeightedMSECriterion()(OUTPUT, target, weights).item() == pytest.approx(17 / 4)


def test_mse_gradient():
    output = OUTPUT.clone().requires_grad_(True)
    weights = torch.tensor([2.0, 1.0]).reshape(1, 2, 1, 1)
    WeightedMSECriterion()(output, TARGET, weights).backward()
    # d/do [sum(w o²) / sum(w)] = 2 w o / sum(w), sum(w) = 2*2 + 1*2 = 6
    expected = torch.tensor([[[[2 * 2 * 1.0, 2 * 2 * 2.0]], [[2 * 1 * 3.0, 2 * 1 * 4.0]]]]) / 6
    torch.testing.assert_close(output.grad, expected)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        # diffs 0.5 (quadratic: 0.5·0.25) and 3 (linear: delta·(3 - delta/2))
        (1.0, (0.125 + 1.0 * (3 - 0.5)) / 2),
        (2.0, (0.125 + 2.0 * (3 - 1.0)) / 2),
        (4.0, (0.125 + 0.5 * 9) / 2),  # both quadratic
    ],
)
def test_huber_exact(delta, expected):
    output = torch.tensor([0.5, 3.0, 100.0])
    weights = torch.tensor([1.0, 1.0, 0.0])  # the huge error is weighted out
    loss = CRITERIONS.build(dict(type="WeightedHuberCriterion", delta=delta))(output, torch.zeros(3), weights)
    assert loss.item() == pytest.approx(expected)


def test_huber_rejects_non_positive_delta():
    with pytest.raises(ValueError, match="delta"):
        WeightedHuberCriterion(delta=0.0)


def test_bce_exact_on_logits():
    output = torch.tensor([0.0, 0.0, 2.0, -1.0])
    target = torch.tensor([1.0, 0.0, 1.0, 0.25])
    weights = torch.tensor([1.0, 1.0, 2.0, 1.0])
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    terms = [math.log(2), math.log(2), -math.log(sig(2.0)),
             -(0.25 * math.log(sig(-1.0)) + 0.75 * math.log(1 - sig(-1.0)))]
    expected = (terms[0] + terms[1] + 2 * terms[2] + terms[3]) / 5
    assert WeightedBCECriterion()(output, target, weights).item() == pytest.approx(expected)


def test_bce_is_stable_for_large_logits():
    output = torch.tensor([100.0, -100.0])
    loss = WeightedBCECriterion()(output, torch.tensor([1.0, 0.0]), torch.ones(2))
    assert torch.isfinite(loss) and loss.item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", ["WeightedMSECriterion", "WeightedHuberCriterion", "WeightedBCECriterion"])
def test_zero_weights_give_zero_loss_and_finite_gradient(name):
    criterion = CRITERIONS.build(dict(type=name))
    output = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss = criterion(output, torch.rand(2, 3, 4, 4), torch.zeros(2, 3, 1, 1))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(output.grad).all() and output.grad.abs().sum().item() == 0.0


@pytest.mark.parametrize("name", ["WeightedMSECriterion", "WeightedHuberCriterion", "WeightedBCECriterion"])
def test_loss_is_a_scalar_and_zero_on_perfect_output(name):
    criterion = CRITERIONS.build(dict(type=name))
    target = torch.rand(2, 3, 4, 4)
    loss = criterion(target.clone(), target, torch.ones(2, 3, 1, 1))
    assert loss.shape == ()
    if name != "WeightedBCECriterion":  # BCE on logits has no zero at probability targets
        assert loss.item() == 0.0
