"""KLDiscreteLoss: equals a hand computation; temperatures; label softmax; keypoint weights."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_pose_arch.models.criterions import CRITERIONS, KLDiscreteLoss


def kl(target: list[float], logits: list[float], beta: float) -> float:
    """KL(target ‖ softmax(beta · logits)) written out."""
    exps = [math.exp(beta * o) for o in logits]
    predicted = [e / sum(exps) for e in exps]
    return sum(t * math.log(t / p) for t, p in zip(target, predicted) if t > 0)


def test_equals_hand_computation_with_weights():
    logits = [[0.0, 1.0, 2.0], [1.0, 0.0, -1.0], [3.0, 3.0, 3.0]]
    targets = [[0.0, 0.25, 0.75], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]
    weights = [1.0, 0.5, 0.0]
    loss = KLDiscreteLoss(beta=2.0, label_softmax=False)(
        torch.tensor([logits]), torch.tensor([targets]), torch.tensor([weights])[..., None])
    expected = (1.0 * kl(targets[0], logits[0], 2.0) + 0.5 * kl(targets[1], logits[1], 2.0)) / 1.5
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_label_softmax_turns_targets_into_distributions():
    logits, peak = [0.5, -0.5, 0.0, 1.0], [0.1, 1.0, 0.3, 0.0]
    exps = [math.exp(3.0 * t) for t in peak]
    labels = [e / sum(exps) for e in exps]
    loss = KLDiscreteLoss(beta=1.0, label_softmax=True, label_beta=3.0)(
        torch.tensor([[logits]]), torch.tensor([[peak]]), torch.ones(1, 1, 1))
    assert loss.item() == pytest.approx(kl(labels, logits, 1.0), rel=1e-6)


def test_zero_when_prediction_matches_and_zero_weights_give_zero():
    target = torch.tensor([[[0.2, 0.3, 0.5]]])
    criterion = CRITERIONS.build(dict(type="KLDiscreteLoss", beta=1.0, label_softmax=False))
    assert criterion(target.log(), target, torch.ones(1, 1, 1)).item() == pytest.approx(0.0, abs=1e-7)
    assert criterion(torch.randn(1, 1, 3), target, torch.zeros(1, 1, 1)).item() == 0.0


def test_gradient_flows_to_logits():
    logits = torch.randn(2, 3, 10, requires_grad=True)
    target = torch.softmax(torch.randn(2, 3, 10), -1)
    KLDiscreteLoss()(logits, target, torch.ones(2, 3, 1)).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_invalid_temperatures_raise():
    with pytest.raises(ValueError, match="beta"):
        KLDiscreteLoss(beta=0.0)
