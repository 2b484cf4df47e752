"""Every registered consistency loss builds from a dict, documents itself and takes [B, T, K, 3] clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lightning_pose_arch.models.consistency import CONSISTENCY_LOSSES

BODYPARTS = ["a_top", "b_top", "a_side", "b_side"]
MINIMAL = {"MultiViewPCALoss": {"views": [["a_top", "b_top"], ["a_side", "b_side"]]}}


@pytest.mark.parametrize("name", CONSISTENCY_LOSSES.names())
def test_member_builds_fits_and_returns_a_scalar_with_gradient(name: str) -> None:
    loss = CONSISTENCY_LOSSES.build({"type": name, "warmup_epochs": 2, "start_epoch": 1, **MINIMAL.get(name, {})})
    assert loss.__doc__ and "[B, T, K, 3]" in loss.__doc__
    rng = np.random.default_rng(0)
    loss.fit(rng.uniform(0, 100, (12, 4, 2)).astype(np.float32), BODYPARTS)
    keypoints = torch.cat([torch.rand(2, 3, 4, 2) * 100, torch.ones(2, 3, 4, 1)], dim=-1).requires_grad_(True)
    value = loss(keypoints)
    value.backward()
    assert value.ndim == 0 and torch.isfinite(value) and keypoints.grad is not None
    assert [loss.weight_at(epoch) for epoch in (0, 1, 2, 3)] == [0.0, 0.0, 0.5, 1.0]


@pytest.mark.parametrize("setting", [{"start_epoch": -1}, {"warmup_epochs": -2}, {"weight": -0.1}])
def test_negative_schedule_settings_are_refused(setting: dict) -> None:
    name = next(iter(setting))
    with pytest.raises(ValueError, match=f"{name}={setting[name]}"):
        CONSISTENCY_LOSSES.build({"type": "TemporalLoss", **setting})


def test_unknown_argument_is_reported_with_suggestion() -> None:
    with pytest.raises(ValueError, match="has no argument 'epsilom'; did you mean 'epsilon'"):
        CONSISTENCY_LOSSES.build({"type": "TemporalLoss", "epsilom": 3})
