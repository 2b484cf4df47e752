"""Backbone contract and the timm loader every backbone uses."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import timm
import torch
from torch import nn

from lightning_pose_arch.registry import Registry

HUB_HOST = "huggingface.co"


class BaseBackbone(nn.Module):
    """Image → feature map (or, multi-scale, a list of feature maps).

    Subclasses set ``stride`` (input pixels per output cell) and
    ``out_channels``, best through :meth:`set_features`; ``forward`` maps
    ``[B, 3, H, W]`` to ``[B, out_channels, H / stride, W / stride]``
    (H, W multiples of 32).

    Multi-scale (``multi_scale`` is True, e.g. a backbone built with
    ``out_indices``): ``forward`` returns ``list[Tensor]``, map ``i`` being
    ``[B, feature_channels[i], H / feature_strides[i], W / feature_strides[i]]``,
    ordered fine to coarse; ``out_channels`` and ``stride`` then describe the
    last (coarsest) map. Single-map backbones report their one map as
    one-element ``feature_channels`` / ``feature_strides``. A neck such as
    ``FPN`` turns the list back into one map for the heads.
    """

    stride: int
    out_channels: int
    multi_scale: bool = False
    _feature_channels: tuple[int, ...] = ()
    _feature_strides: tuple[int, ...] = ()

    def set_features(self, channels: Sequence[int], strides: Sequence[int], multi_scale: bool) -> None:
        """Record what ``forward`` returns: one map, or (``multi_scale``) one map per level."""
        if len(channels) != len(strides) or not channels or (not multi_scale and len(channels) != 1):
            raise ValueError(f"{type(self).__name__}: bad feature levels, channels {list(channels)}, strides {list(strides)}")
        self._feature_channels = tuple(int(c) for c in channels)
        self._feature_strides = tuple(int(s) for s in strides)
        self.multi_scale = multi_scale
        self.out_channels = self._feature_channels[-1]
        self.stride = self._feature_strides[-1]

    @property
    def feature_channels(self) -> list[int]:
        """Channels of each map ``forward`` returns (one entry for a single-map backbone)."""
        return list(self._feature_channels) if self._feature_channels else [self.out_channels]

    @property
    def feature_strides(self) -> list[int]:
        """Stride (input pixels per cell) of each map ``forward`` returns."""
        return list(self._feature_strides) if self._feature_strides else [self.stride]

    def forward(self, images: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


def check_out_indices(owner: str, out_indices: Sequence[int] | None, valid: Sequence[int]) -> tuple[int, ...] | None:
    """``out_indices`` as a tuple after checking it is a non-empty increasing list drawn from ``valid``."""
    if out_indices is None:
        return None
    indices = list(out_indices)
    if not indices or indices != sorted(set(indices)) or any(isinstance(i, bool) or i not in valid for i in indices):
        raise ValueError(f"{owner} out_indices must be a non-empty increasing list drawn from {list(valid)} "
                         f"(timm stage i has stride 2^(i+1)), got {out_indices!r}")
    return tuple(indices)


BACKBONES: Registry[BaseBackbone] = Registry("BACKBONES", BaseBackbone)


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers, asked through huggingface_hub's own HTTP session.

    The download itself goes through that session, so this check sees what it will see:
    ``HTTPS_PROXY``/``HTTP_PROXY``, ``HF_ENDPOINT`` (mirrors) and ``HF_HUB_OFFLINE``.
    """
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    try:
        get_session().head(constants.ENDPOINT, timeout=timeout_s)
    except Exception:  # any transport failure (DNS, proxy, TLS, timeout) means: not reachable from here
        return False
    return True


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
