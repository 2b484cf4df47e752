import pytest
import torch

from lightning_pose_arch.lit.optim import build_optimizer, build_scheduler
from lightning_pose_arch.registry import ConfigError


def params() -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.zeros(2))]


def test_optimizer_and_scheduler_from_dicts() -> None:
    optimizer = build_optimizer({"type": "SGD", "lr": 0.1, "momentum": 0.9}, params())
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["momentum"] == 0.9
    scheduler = build_scheduler({"type": "StepLR", "step_size": 3, "interval": "step"}, optimizer)
    assert isinstance(scheduler["scheduler"], torch.optim.lr_scheduler.StepLR) and scheduler["interval"] == "step"


def test_unknown_names_suggest() -> None:
    with pytest.raises(ConfigError, match="did you mean 'AdamW'"):
        build_optimizer({"type": "AdamWW", "lr": 0.1}, params())
    with pytest.raises(ConfigError, match="did you mean 'lr'"):
        build_optimizer({"type": "Adam", "lrr": 0.1}, params())
    with pytest.raises(ConfigError, match="did you mean 'CosineAnnealingLR'"):
        build_scheduler({"type": "CosineAnealingLR"}, build_optimizer({"type": "Adam"}, params()))
