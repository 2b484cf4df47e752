"""Flip test-time augmentation: average a prediction on the input with the one on its mirror image."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def unflip_keypoints(keypoints: torch.Tensor, width: int, flip_pairs: Sequence[tuple[int, int]]) -> torch.Tensor:
    """Keypoints ``[B, N, K, 3]`` predicted on horizontally mirrored ``width``-pixel inputs → on the inputs:
    ``x → width − 1 − x`` (pixel centers at integers) and left/right keypoints swapped back."""
    order = list(range(keypoints.shape[-2]))
    for i, j in flip_pairs:
        order[i], order[j] = j, i
    keypoints = keypoints[..., order, :]
    return torch.cat([(width - 1) - keypoints[..., :1], keypoints[..., 1:]], dim=-1)


def average_with_mirror(keypoints: torch.Tensor, mirrored: torch.Tensor, width: int,
                        flip_pairs: Sequence[tuple[int, int]]) -> torch.Tensor:
    """Mean x, y and score ``[B, 1, K, 3]`` of a prediction and the prediction on the mirror image (unflipped).

    Single-individual predictions only: with several individuals the rows of the two
    predictions need not be the same animals.
    """
    if keypoints.shape[1] != 1:
        raise ValueError(f"flip test averages single-individual predictions; got {keypoints.shape[1]} individuals "
                         "(multi-animal heads: run without flip test)")
    return (keypoints + unflip_keypoints(mirrored, width, flip_pairs)) / 2
