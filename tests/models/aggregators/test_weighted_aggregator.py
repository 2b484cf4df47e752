"""WeightedLossAggregator: weighted sum of named loss terms."""

from __future__ import annotations

import pytest
import torch

from lightning_pose_arch.models.aggregators import AGGREGATORS, WeightedLossAggregator

LOSSES = {"heatmap": torch.tensor(2.0), "locref": torch.tensor(10.0)}


def test_weighted_sum():
    aggregator = AGGREGATORS.build(dict(type="WeightedLossAggregator", weights=dict(heatmap=1.0, locref=0.05)))
    assert aggregator(LOSSES).item() == pytest.approx(2.0 + 0.5)


def test_unlisted_names_weigh_one():
    assert WeightedLossAggregator(weights={"locref": 0.1})(LOSSES).item() == pytest.approx(3.0)


def test_default_is_plain_sum():
    assert WeightedLossAggregator()(LOSSES).item() == pytest.approx(12.0)


def test_unknown_weight_name_raises():
    aggregator = WeightedLossAggregator(weights={"heatmp": 1.0})
    with pytest.raises(KeyError, match="heatmp"):
        aggregator(LOSSES)


def test_gradient_flows_with_weights():
    heatmap = torch.tensor(1.0, requires_grad=True)
    locref = torch.tensor(1.0, requires_grad=True)
    WeightedLossAggregator(weights={"locref": 0.25})({"heatmap": heatmap, "locref": locref}).backward()
    assert (heatmap.grad.item(), locref.grad.item()) == (1.0, 0.25)


def test_weights_are_copied():
    weights = {"locref": 0.5}
    aggregator = WeightedLossAggregator(weights=weights)
    weights["locref"] = 100.0
    assert aggregator(LOSSES).item() == pytest.approx(7.0)
