"""Gated attention unit (GAU, Hua et al. 2022) as used by RTMPose's RTMCC head, and ScaleNorm."""

from __future__ import annotations

import math

import torch
from timm.layers import DropPath
from torch import nn


class ScaleNorm(nn.Module):
    """``x / max(‖x‖ / √dim, eps) · g`` over the last axis, one learned scalar ``g``; any shape ``[..., dim]``.

    Args:
        dim: Size of the last axis.
        eps: Lower bound of the scaled norm.
    """

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = dim**-0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp_min(self.eps) * self.g


class GatedAttentionUnit(nn.Module):
    """Single-head gated attention over tokens: ``[B, T, dim]`` → ``[B, T, dim]``.

    ``x → ScaleNorm → Linear → SiLU → (u [e], v [e], z [s])``; queries and
    keys are per-dimension scalings and shifts of the shared ``z``
    (``q = z·γ₀ + β₀``, ``k = z·γ₁ + β₁``); attention weights are
    ``relu(q kᵀ / √s)²`` (squared ReLU, no softmax, no relative-position
    bias); ``out = Linear(u ⊙ (A v))``, added to a learned per-channel scaling
    of ``x`` (the residual) after optional drop-path. ``e = expansion_factor
    · dim``.

    Args:
        dim: Token size (in and out).
        attention_dims: s, the size of the shared query/key projection.
        expansion_factor: e / dim.
        dropout: Dropout on the attention weights.
        drop_path: Stochastic-depth rate of the attention branch.
        eps: ScaleNorm epsilon.
    """

    def __init__(
        self,
        dim: int,
        attention_dims: int = 128,
        expansion_factor: float = 2.0,
        dropout: float = 0.0,
        drop_path: float = 0.0,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if min(dim, attention_dims) <= 0 or expansion_factor <= 0:
            raise ValueError(f"GatedAttentionUnit sizes must be positive, got dim={dim}, "
                             f"attention_dims={attention_dims}, expansion_factor={expansion_factor}")
        if not (0.0 <= dropout < 1.0 and 0.0 <= drop_path < 1.0):
            raise ValueError(f"GatedAttentionUnit dropout and drop_path must be in [0, 1), got {dropout}, {drop_path}")
        self.expanded = int(dim * expansion_factor)
        self.attention_dims = attention_dims
        self.norm = ScaleNorm(dim, eps=eps)
        self.uv = nn.Linear(dim, 2 * self.expanded + attention_dims, bias=False)
        self.activation = nn.SiLU()
        self.gamma = nn.Parameter(torch.rand(2, attention_dims))
        self.beta = nn.Parameter(torch.rand(2, attention_dims))
        self.out = nn.Linear(self.expanded, dim, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.residual_scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, v, z = torch.split(self.activation(self.uv(self.norm(x))),
                              [self.expanded, self.expanded, self.attention_dims], dim=-1)
        qk = z[..., None, :] * self.gamma + self.beta  # [B, T, 2, s]
        q, k = qk.unbind(dim=-2)
        attention = torch.relu(q @ k.transpose(-1, -2) / math.sqrt(self.attention_dims)).square()  # [B, T, T]
        branch = self.out(u * (self.dropout(attention) @ v))
        return x * self.residual_scale + self.drop_path(branch)
