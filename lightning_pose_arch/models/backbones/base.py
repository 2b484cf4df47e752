"""Backbone contract and the timm loader every backbone uses."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import timm
import torch
from torch import nn

from lightning_pose_arch.registry import Registry

HUB_HOST = "huggingface.co"


class BaseBackbone(nn.Module):
    """Image → feature map.

    Subclasses set ``stride`` (input pixels per output cell) and
    ``out_channels``; ``forward`` maps ``[B, 3, H, W]`` to
    ``[B, out_channels, H / stride, W / stride]`` (H, W multiples of stride).
    """

    stride: int
    out_channels: int

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


BACKBONES: Registry[BaseBackbone] = Registry("BACKBONES", BaseBackbone)


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def create_timm_features(model_name: str, pretrained: bool | str | Path, **timm_kwargs: object) -> nn.Module:
    """Create a timm ``features_only`` model.

    Args:
        model_name: timm model name, e.g. ``"hrnet_w32"``.
        pretrained: ``False`` for random weights; ``True`` for timm's weights
            (from the local cache, or downloaded); a path to a local
            ``.safetensors``/``.pth`` file of the timm model's weights.
        **timm_kwargs: forwarded to ``timm.create_model`` (fixed per backbone
            class, never user keys).

    Raises:
        FileNotFoundError: ``pretrained`` is a path that does not exist.
        RuntimeError: ``pretrained=True`` but weights are neither cached nor downloadable.
    """
    if isinstance(pretrained, (str, Path)) and not isinstance(pretrained, bool):
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"pretrained weights file {str(path)!r} for {model_name!r} does not exist")
        return timm.create_model(model_name, pretrained=True, features_only=True,
                                 pretrained_cfg_overlay=dict(file=str(path)), **timm_kwargs)
    if not pretrained:
        return timm.create_model(model_name, pretrained=False, features_only=True, **timm_kwargs)
    if _hub_reachable():
        return timm.create_model(model_name, pretrained=True, features_only=True, **timm_kwargs)
    try:
        with _hub_offline():
            return timm.create_model(model_name, pretrained=True, features_only=True, **timm_kwargs)
    except Exception as err:
        raise RuntimeError(
            f"pretrained=True for {model_name!r}, but its weights are not in the local Hugging Face cache "
            f"and {HUB_HOST} cannot be reached (offline). Use pretrained=False, or pass a local weights file: "
            f"pretrained='/path/to/{model_name}.safetensors'."
        ) from err


@contextlib.contextmanager
def _hub_offline() -> Iterator[None]:
    """Make huggingface_hub look only in its local cache (no network retries)."""
    import huggingface_hub.constants as hub_constants

    was_offline, hub_constants.HF_HUB_OFFLINE = hub_constants.HF_HUB_OFFLINE, True
    try:
        yield
    finally:
        hub_constants.HF_HUB_OFFLINE = was_offline
