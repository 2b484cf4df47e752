"""Progressive resizing: the first epochs train (and validate) at a fraction of the input size.

From random weights, a model first has to find the animal and tell its parts
apart; that needs many steps, not many pixels. Steps at half the input size cost
about a quarter, so a schedule such as ``{0: 0.5, 24: 1.0}`` (``cfg.resolution_schedule``)
gets there sooner in wall time, and the last epochs at full size recover the detail
(README, issue 18). The model's input step resizes each batch to the epoch's size on
the device and the labels follow with the same exact map (``x → (x + 0.5)·s − 0.5``,
:func:`~lightning_pose_arch.models.coordinates.resize_matrix`), so losses, metrics
and predictions stay correct at every size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lightning_pose_arch.data.datamodule import SIZE_MULTIPLE  # every scheduled size tiles into whole feature cells
from lightning_pose_arch.models.coordinates import resize_matrix, transform_keypoints
from lightning_pose_arch.registry import ConfigError

LABEL_KEYS = ("keypoints", "unique_keypoints")  # batch entries in network-input pixels


def parse_resolution_schedule(value: Any) -> dict[int, float] | None:
    """``cfg.resolution_schedule`` → ``{start epoch: fraction of image_size}``, checked; ``None`` when absent.

    Keys are the epochs (from 0) each fraction starts at; epoch 0 must be listed, and the last
    fraction must be 1.0 so that the finished model runs at the size it is deployed at.
    """
    if value is None:
        return None
    example = "e.g. {0: 0.5, 24: 1.0}"
    if not isinstance(value, Mapping):
        raise ConfigError(f"PoseLitModule cfg.resolution_schedule must map start epochs to fractions of "
                          f"data.image_size, {example}; got {value!r}")
    schedule: dict[int, float] = {}
    for key, scale in value.items():
        epoch = int(key) if isinstance(key, str) and key.isdigit() else key  # JSON and the command line give strings
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0 or isinstance(scale, bool) or \
                not isinstance(scale, (int, float)) or not 0 < scale <= 1:
            raise ConfigError(f"PoseLitModule cfg.resolution_schedule entry {key!r}: {scale!r} must be an epoch "
                              f">= 0 and a fraction in (0, 1], {example}")
        schedule[epoch] = float(scale)
    schedule = dict(sorted(schedule.items()))
    if 0 not in schedule:
        raise ConfigError(f"PoseLitModule cfg.resolution_schedule must list epoch 0 (the first epoch's size), "
                          f"{example}; got {value!r}")
    if schedule[max(schedule)] != 1.0:
        raise ConfigError(f"PoseLitModule cfg.resolution_schedule must end at 1.0 (the full data.image_size, the "
                          f"size the model is used at), {example}; got {value!r}")
    return schedule


def scale_at(schedule: Mapping[int, float], epoch: int) -> float:
    """The fraction of the input size in effect at ``epoch``: that of the last start epoch <= ``epoch``."""
    return schedule[max(start for start in schedule if start <= epoch)]


def scaled_size(image_size: Sequence[int], scale: float) -> tuple[int, int]:
    """``image_size`` (H, W) times ``scale``, each side rounded to a multiple of 32 (at least 32)."""
    return tuple(max(SIZE_MULTIPLE, round(side * scale / SIZE_MULTIPLE) * SIZE_MULTIPLE)  # type: ignore[return-value]
                 for side in image_size)


def resize_labels(batch: Mapping[str, Any], source_size: Sequence[int], target_size: Sequence[int]) -> dict[str, Any]:
    """A copy of ``batch`` whose ``keypoints`` (and ``unique_keypoints``) ``[B, N, K, 3]`` moved from input
    pixels of ``source_size`` (H, W) to those of ``target_size``; other entries are shared."""
    matrix = resize_matrix(source_size, target_size)
    return {**batch, **{key: transform_keypoints(batch[key], matrix) for key in LABEL_KEYS if key in batch}}
