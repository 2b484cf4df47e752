"""Does a built model fit its data? One dry step on a blank image, before training starts.

Sizes a config sets by hand (``num_heatmaps: 17``, ``num_output_channels: 17``) are not filled
from the data, so a head sized for another dataset would otherwise fail only inside the first
training step (or, worse, train on the wrong number of keypoints).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lightning_pose_arch.models.pose_model import PoseModel
from lightning_pose_arch.registry import ConfigError

SIZE_KEYS = ("num_heatmaps", "num_keypoints", "num_output_channels", "num_joints")


def check_model_fits_data(model: PoseModel, dataset_info: Mapping[str, Any], head_cfgs: Mapping[str, Any]) -> None:
    """Run forward → targets → loss → predict once on a blank ``[1, 3, H, W]`` image with one visible label per
    keypoint (eval mode, no gradients, the model's state untouched); raise :class:`ConfigError` naming the
    heads' hand-set sizes and the data's when it fails or predicts another number of keypoints.

    Args:
        model: The built model.
        dataset_info: The data module's ``dataset_info()`` (bodyparts, individuals, unique bodyparts, image size).
        head_cfgs: The model config's ``heads`` section, as written (to name its size keys).
    """
    batch = _blank_batch(dataset_info, next(model.parameters()).device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outputs = model(batch["image"])
            model.get_loss(outputs, model.get_targets(batch, outputs))
            predictions = model.predict(outputs)
    except Exception as err:  # any failure here would come back in the first training step
        raise ConfigError(f"the model does not fit the data: {_sizes(dataset_info, head_cfgs)}; a step on one blank "
                          f"image failed with {type(err).__name__}: {str(err)[:300]}") from err
    finally:
        model.train(was_training)
    for name, prediction in predictions.items():
        expected = batch[model.label_keys[name]].shape[2]
        if prediction["keypoints"].shape[2] != expected:
            raise ConfigError(f"head {name!r} predicts {prediction['keypoints'].shape[2]} keypoints, the data has "
                              f"{expected}: {_sizes(dataset_info, head_cfgs)}")


def _blank_batch(dataset_info: Mapping[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    height, width = (int(side) for side in dataset_info["image_size"])
    center = torch.tensor([(width - 1) / 2, (height - 1) / 2, 2.0], device=device)
    num_individuals = max(1, len(dataset_info.get("individuals") or []))
    batch = {
        "image": torch.zeros(1, 3, height, width, device=device),
        "keypoints": center.expand(1, num_individuals, len(dataset_info["bodyparts"]), 3).clone(),
        "bboxes": torch.tensor([0.0, 0.0, width - 1.0, height - 1.0], device=device).expand(1, num_individuals, 4),
        "original_size": torch.tensor([[width, height]], dtype=torch.float32, device=device),
    }
    unique = dataset_info.get("unique_bodyparts") or []
    if unique:
        batch["unique_keypoints"] = center.expand(1, 1, len(unique), 3).clone()
    return batch


def _sizes(dataset_info: Mapping[str, Any], head_cfgs: Mapping[str, Any]) -> str:
    """The data's keypoint counts and every size key the head configs set by hand."""
    unique = dataset_info.get("unique_bodyparts") or []
    found = [f"heads.{name}.{path} = {value}" for name, cfg in head_cfgs.items() for path, value in _size_keys(cfg)]
    stated = "; ".join(found) if found else "no size key set in the head configs"
    return (f"the data has {len(dataset_info['bodyparts'])} bodyparts {list(dataset_info['bodyparts'])}"
            f"{f' and {len(unique)} unique bodyparts' if unique else ''}, the config sets {stated}. Remove "
            f"these keys ({', '.join(SIZE_KEYS)}) so that they follow the data")


def _size_keys(cfg: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if not isinstance(cfg, Mapping):
        return []
    found = []
    for key, value in cfg.items():
        if key in SIZE_KEYS:
            found.append((f"{prefix}{key}", value))
        found += _size_keys(value, f"{prefix}{key}.")
    return found
