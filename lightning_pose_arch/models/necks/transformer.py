"""TokenPose-style transformer neck: feature map → patch + keypoint tokens → encoder → feature map."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lightning_pose_arch.models.necks.base import NECKS, BaseNeck
from lightning_pose_arch.registry import ConfigError


@NECKS.register
class Transformer(BaseNeck):
    """Transformer encoder over patch tokens and learnable keypoint tokens (TokenPose-style).

    ``forward``: one map ``[B, in_channels, h, w]`` at stride ``in_strides``
    → ``[B, out_channels, h, w]``, at the same stride (so a heatmap head
    sized for the backbone's stride works unchanged; ``h``, ``w`` must be
    multiples of ``patch_size``).

    1. Patch tokens: a ``patch_size``×``patch_size`` conv with stride
       ``patch_size`` embeds the map into ``(h/p)·(w/p)`` tokens of width
       ``embed_dim``, plus a fixed 2D sine-cosine positional embedding (no
       parameters, so any image size works).
    2. ``num_keypoint_tokens`` learnable keypoint tokens (TokenPose: one per
       keypoint; filled from the data's keypoint count) join them.
    3. ``depth`` pre-norm ``nn.TransformerEncoderLayer`` s (``num_heads``
       heads, GELU MLP of ``mlp_ratio·embed_dim``), then a LayerNorm.
    4. Back to a map: the patch tokens as ``[B, embed_dim, h/p, w/p]``,
       concatenated with one similarity map per keypoint token (its dot
       product with every patch token, ÷√embed_dim: ``[B, K, h/p, w/p]``),
       upsampled bilinearly by ``p``, then a 1×1 conv to ``out_channels``.

    Args:
        in_channels: Channels of the input map (filled from the backbone; one map, not a list).
        in_strides: Stride of the input map (filled from the backbone).
        num_keypoint_tokens: Learnable keypoint tokens K (filled from the
            number of keypoints; 0: patch tokens only).
        embed_dim: Token width (a multiple of ``num_heads`` and of 4).
        depth: Encoder layers.
        num_heads: Attention heads.
        mlp_ratio: MLP hidden width ÷ ``embed_dim``.
        patch_size: Input cells per token side (fewer tokens on fine maps).
        dropout: Dropout inside the encoder layers.
        out_channels: Channels of the output map.

    Example:
        >>> neck = NECKS.build(dict(type="Transformer", in_channels=512, in_strides=32, num_keypoint_tokens=4,
        ...                         embed_dim=64, depth=2, num_heads=4, out_channels=32))
        >>> tuple(neck(torch.zeros(2, 512, 8, 6)).shape), neck.stride
        ((2, 32, 8, 6), 32)
    """

    def __init__(
        self,
        in_channels: int,
        in_strides: int,
        num_keypoint_tokens: int,
        embed_dim: int = 256,
        depth: int = 4,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        patch_size: int = 1,
        dropout: float = 0.0,
        out_channels: int = 256,
    ) -> None:
        super().__init__()
        _check_single_map(in_channels, in_strides)
        _check_sizes(embed_dim, depth, num_heads, mlp_ratio, patch_size, dropout, out_channels, num_keypoint_tokens)
        self.in_channels, self.in_strides = int(in_channels), int(in_strides)
        self.out_channels, self.stride = out_channels, self.in_strides
        self.patch_size, self.embed_dim = patch_size, embed_dim
        self.patch_embed = nn.Conv2d(self.in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.keypoint_tokens = nn.Parameter(torch.randn(1, num_keypoint_tokens, embed_dim) * 0.02)
        layer = nn.TransformerEncoderLayer(embed_dim, num_heads, dim_feedforward=round(mlp_ratio * embed_dim),
                                           dropout=dropout, activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, norm=nn.LayerNorm(embed_dim), enable_nested_tensor=False)
        self.project = nn.Conv2d(embed_dim + num_keypoint_tokens, out_channels, kernel_size=1)

    @property
    def num_keypoint_tokens(self) -> int:
        return self.keypoint_tokens.shape[1]

    @classmethod
    def fill_sizes(
        cls,
        cfg: dict[str, Any],
        in_channels: int | list[int],
        in_strides: int | list[int],
        num_keypoints: int | None,
    ) -> dict[str, Any]:
        _check_single_map(in_channels, in_strides)  # explain a multi-scale backbone before the type check does
        cfg = super().fill_sizes(cfg, in_channels, in_strides, num_keypoints)
        if num_keypoints is not None:
            cfg.setdefault("num_keypoint_tokens", num_keypoints)
        return cfg

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if not isinstance(features, torch.Tensor):
            raise ValueError(f"Transformer neck expects one feature map, got a list of {len(features)}")
        height, width = features.shape[-2:]
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(f"Transformer neck: feature map {height}×{width} is not a multiple of "
                             f"patch_size {self.patch_size} (use a smaller patch_size or another image size)")
        patches = self.patch_embed(features)  # [B, D, h/p, w/p]
        batch, dim, rows, cols = patches.shape
        tokens = patches.flatten(2).transpose(1, 2) + sine_position_embedding(rows, cols, dim, patches)
        tokens = torch.cat([tokens, self.keypoint_tokens.expand(batch, -1, -1)], dim=1)
        tokens = self.encoder(tokens)
        patch_tokens, keypoint_tokens = tokens[:, : rows * cols], tokens[:, rows * cols:]
        similarity = keypoint_tokens @ patch_tokens.transpose(1, 2) / math.sqrt(dim)  # [B, K, h/p · w/p]
        fused = torch.cat([patch_tokens.transpose(1, 2), similarity], dim=1).reshape(batch, -1, rows, cols)
        if self.patch_size > 1:
            fused = F.interpolate(fused, size=(height, width), mode="bilinear", align_corners=False)
        return self.project(fused)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, in_strides={self.in_strides}, "
                f"num_keypoint_tokens={self.num_keypoint_tokens}, patch_size={self.patch_size}, stride={self.stride}")


def sine_position_embedding(rows: int, cols: int, dim: int, like: torch.Tensor) -> torch.Tensor:
    """Fixed 2D sine-cosine embedding ``[1, rows·cols, dim]`` (row-major tokens): dim/2 for y, dim/2 for x."""
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, device=like.device, dtype=torch.float32) / quarter)
    ys, xs = torch.meshgrid(torch.arange(rows, device=like.device, dtype=torch.float32),
                            torch.arange(cols, device=like.device, dtype=torch.float32), indexing="ij")
    angles_y, angles_x = ys.reshape(-1, 1) * omega, xs.reshape(-1, 1) * omega
    embedding = torch.cat([angles_y.sin(), angles_y.cos(), angles_x.sin(), angles_x.cos()], dim=1)
    return embedding.to(like.dtype).unsqueeze(0)


def _check_single_map(in_channels: int | list[int], in_strides: int | list[int]) -> None:
    if isinstance(in_channels, (list, tuple)) or isinstance(in_strides, (list, tuple)):
        raise ConfigError(
            f"Transformer neck takes one feature map, got a multi-scale list (channels {in_channels}, strides "
            f"{in_strides}): unset the backbone's out_indices"
        )
    if int(in_channels) <= 0 or int(in_strides) <= 0:
        raise ConfigError(f"Transformer in_channels and in_strides must be positive, got {in_channels}, {in_strides}")


def _check_sizes(embed_dim: int, depth: int, num_heads: int, mlp_ratio: float, patch_size: int,
                 dropout: float, out_channels: int, num_keypoint_tokens: int) -> None:
    if min(embed_dim, depth, num_heads, patch_size, out_channels) <= 0 or mlp_ratio <= 0 or num_keypoint_tokens < 0:
        raise ValueError(f"Transformer sizes must be positive (num_keypoint_tokens ≥ 0), got embed_dim={embed_dim}, "
                         f"depth={depth}, num_heads={num_heads}, mlp_ratio={mlp_ratio}, patch_size={patch_size}, "
                         f"out_channels={out_channels}, num_keypoint_tokens={num_keypoint_tokens}")
    if embed_dim % num_heads or embed_dim % 4:
        raise ValueError(f"Transformer embed_dim {embed_dim} must be a multiple of num_heads ({num_heads}) and of 4")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"Transformer dropout must be in [0, 1), got {dropout}")
