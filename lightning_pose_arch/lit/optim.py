"""Optimizers and LR schedulers from ``{"type": <torch class name>, ...}`` dicts."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from lightning_pose_arch.registry import ConfigError, check_keys, check_types, did_you_mean

SCHEDULER_LIGHTNING_KEYS = ("interval", "frequency", "monitor")


def _torch_class(module: Any, name: str, base: type, where: str) -> type:
    choices = [n for n, obj in vars(module).items() if inspect.isclass(obj) and issubclass(obj, base) and obj is not base]
    if name not in choices:
        raise ConfigError(f"{where} type {name!r} is not a class of {module.__name__}"
                          f"{did_you_mean(name, choices) or '.'} Valid types: {', '.join(sorted(choices))}.")
    return getattr(module, name)


def build_optimizer(cfg: Mapping[str, Any], params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """``{"type": "AdamW", "lr": 1e-3, ...}`` → ``torch.optim.AdamW(params, lr=1e-3, ...)``."""
    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    cls = _torch_class(torch.optim, cfg.get("type", ""), torch.optim.Optimizer, "optimizer")
    check_keys(cls, {"params": None, **kwargs}, where=f"optimizer {cls.__name__}")
    check_types(cls, kwargs, where=f"optimizer {cls.__name__}")
    return cls(params, **kwargs)


def build_scheduler(cfg: Mapping[str, Any], optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """``{"type": "CosineAnnealingLR", "T_max": 50, "interval": "epoch"}`` → Lightning's scheduler dict."""
    lightning_keys = {k: cfg[k] for k in SCHEDULER_LIGHTNING_KEYS if k in cfg}
    kwargs = {k: v for k, v in cfg.items() if k != "type" and k not in lightning_keys}
    base = torch.optim.lr_scheduler.LRScheduler
    cls = _torch_class(torch.optim.lr_scheduler, cfg.get("type", ""), base, "scheduler")
    check_keys(cls, {"optimizer": None, **kwargs}, where=f"scheduler {cls.__name__}")
    check_types(cls, kwargs, where=f"scheduler {cls.__name__}")
    return {"scheduler": cls(optimizer, **kwargs), **lightning_keys}


def check_optimization(cfg: Mapping[str, Any], default_optimizer: Mapping[str, Any]) -> None:
    """Build ``cfg``'s optimizer and scheduler on a dummy parameter: bad names or arguments fail now, not mid-fit."""
    probe = build_optimizer(cfg.get("optimizer") or default_optimizer, [torch.nn.Parameter(torch.zeros(1))])
    if cfg.get("scheduler"):
        build_scheduler(cfg["scheduler"], probe)
