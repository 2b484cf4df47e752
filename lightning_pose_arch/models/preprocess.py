"""The model's own input step: uint8 frames as decoded → normalized network input, and keypoints back to frame pixels."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.onnx.operators import shape_as_tensor

from lightning_pose_arch.models.coordinates import input_to_frame


def channels_first(frames: torch.Tensor) -> torch.Tensor:
    """``[B, H, W, 3]`` (as decoded) or ``[B, 3, H, W]`` → ``[B, 3, H, W]`` (a dim 1 of size 3 means channels first)."""
    if frames.dim() != 4 or 3 not in (frames.shape[1], frames.shape[-1]):
        raise ValueError(f"frames must be [B, H, W, 3] or [B, 3, H, W], got shape {list(frames.shape)}")
    return frames if frames.shape[1] == 3 else frames.permute(0, 3, 1, 2)


def frame_sizes(frames: torch.Tensor) -> torch.Tensor:
    """``[2]`` (width, height) of ``[B, 3, H, W]`` frames, as a tensor (traced, so exported graphs take any size)."""
    return shape_as_tensor(frames)[2:].flip(0)


class InputTransform(nn.Module):
    """Resize (or pad) frames to the network's input and normalize them, on the model's device.

    Like torchvision's ``GeneralizedRCNNTransform``, the model owns this step, so
    training evaluation, ``lpa analyze``, top-down inference and the exported
    graph all pass through it. Resizing is bilinear with
    ``align_corners=False`` (pixel centers at integers: ``x → (x + 0.5)·s − 0.5``,
    the convention of :mod:`~lightning_pose_arch.models.coordinates` and of the
    training transforms), and :meth:`to_frame` maps keypoints back with its exact inverse.
    With ``pad_multiple`` (native-resolution models, :mod:`~lightning_pose_arch.data.native`)
    frames keep their size and are zero-padded right and bottom to multiples of it, so
    input pixels are frame pixels and :meth:`to_frame` is the identity.

    ``forward(frames [B, H0, W0, 3] or [B, 3, H0, W0], uint8 0–255 or float on that scale)``
    → ``[B, 3, H, W]`` float, normalized.

    Args:
        input_size: Network input (H, W) frames are resized to (the training crop size with ``pad_multiple``).
        mean: Per-channel mean on the 0–1 scale (e.g. ImageNet's).
        std: Per-channel standard deviation on the 0–1 scale.
        pad_multiple: Pad instead of resizing, to multiples of this (the network's stride).
    """

    def __init__(self, input_size: Sequence[int], mean: Sequence[float], std: Sequence[float],
                 pad_multiple: int | None = None) -> None:
        super().__init__()
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.pad_multiple = pad_multiple
        # Not persistent: the numbers come from the checkpoint's dataset_info, and older checkpoints load unchanged.
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1) * 255, persistent=False)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` on the 0–255 scale (uint8 or float) → normalized float, same size."""
        return (images.to(self.mean.dtype) - self.mean) / self.std

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        images = channels_first(frames).to(self.mean.dtype)
        if self.pad_multiple is None:
            return self.normalize(F.interpolate(images, size=self.input_size, mode="bilinear", align_corners=False))
        height, width = images.shape[-2:]
        # black padding, as the training windows' borders (warped with border value 0)
        return self.normalize(F.pad(images, (0, -width % self.pad_multiple, 0, -height % self.pad_multiple)))

    def to_frame(self, keypoints: torch.Tensor, frame_size: torch.Tensor) -> torch.Tensor:
        """Keypoints ``[B, N, K, 3]`` from input pixels to the frames' pixels (``frame_size`` ``[2]`` or ``[B, 2]``,
        width and height)."""
        if self.pad_multiple is not None:
            return keypoints
        return input_to_frame(keypoints, frame_size, self.input_size)
