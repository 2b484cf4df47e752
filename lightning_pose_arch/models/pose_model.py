"""PoseModel: backbone → optional neck → named heads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from lightning_pose_arch.data.types import HeadTargets, ModelOutputs, PoseBatch, Prediction
from lightning_pose_arch.models.backbones import BACKBONES, BaseBackbone
from lightning_pose_arch.models.flip_test import average_with_mirror
from lightning_pose_arch.models.heads import HEADS, BaseHead
from lightning_pose_arch.models.necks import NECKS, BaseNeck
from lightning_pose_arch.models.preprocess import InputTransform, channels_first, frame_sizes
from lightning_pose_arch.registry import ConfigError, check_keys

DEFAULT_LABEL_KEY = "keypoints"


class PoseModel(nn.Module):
    """Backbone (+ neck) features shared by named heads.

    ``forward(images [B, 3, H, W])`` → ``{head_name: {output_name: Tensor}}``.
    Each head's stride is the feature stride divided by its upsampling; H
    and W must be multiples of the feature stride. Compatibility is checked
    when built: the neck must accept what the backbone gives (one map, or a
    multi-scale list, with the same channels and strides), a multi-scale
    backbone needs a neck, and every head's input channels must match.

    Args:
        backbone: Image → features (one map, or a list when ``backbone.multi_scale``).
        heads: ``{name: head}``; every head's ``in_channels`` must equal the features' channels.
        neck: Optional backbone features → one map.
        label_keys: Batch key each head is trained on (default ``"keypoints"``).
        input_transform: The model's own input step (frames → normalized input, keypoints back to frame
            pixels), used by :meth:`predict_frames`; ``None`` for a model fed normalized inputs only.
    """

    def __init__(
        self,
        backbone: BaseBackbone,
        heads: Mapping[str, BaseHead],
        neck: BaseNeck | None = None,
        label_keys: Mapping[str, str] | None = None,
        input_transform: InputTransform | None = None,
    ) -> None:
        super().__init__()
        self.input_transform = input_transform
        if not heads:
            raise ConfigError("PoseModel needs at least one head")
        self.backbone = backbone
        self.neck = neck
        self.heads = nn.ModuleDict(dict(heads))
        check_neck_input(backbone, neck)
        feature = neck if neck is not None else backbone
        for name, head in self.heads.items():
            if head.in_channels != feature.out_channels:
                raise ConfigError(
                    f"head {name!r} ({type(head).__name__}) expects {head.in_channels} input channels, "
                    f"{type(feature).__name__} gives {feature.out_channels}"
                )
        self.feature_stride = feature.stride
        self.head_strides = {name: feature.stride / head.upsampling for name, head in self.heads.items()}
        self.label_keys = {name: (label_keys or {}).get(name, DEFAULT_LABEL_KEY) for name in self.heads}

    @classmethod
    def from_config(
        cls,
        cfg: Mapping[str, Any],
        num_keypoints: int | Mapping[str, int] | None = None,
        image_size: Sequence[int] | None = None,
        skeleton: Sequence[tuple[int, int]] | None = None,
        normalization: Mapping[str, Sequence[float]] | None = None,
        pad_multiple: int | None = None,
    ) -> PoseModel:
        """Build from ``{"backbone": {...}, "neck": {...} | None, "heads": {name: {...}}}``.

        Sizes left unset are filled in: the neck's input channels and strides
        from the backbone (and, for ``Transformer``, its keypoint tokens from
        ``num_keypoints``); head input channels and feature stride from the
        neck (or backbone), keypoint counts from ``num_keypoints`` (one count for every
        head, or one per label key, e.g. ``{"keypoints": K, "unique_keypoints": U}``, read
        through each head's ``label_keys`` entry) and, for
        heads whose layers depend on it (``RTMCCHead``), the input size from
        ``image_size`` (H, W; the data's); heads that follow the skeleton
        (``PAFHead``) take its edges from ``skeleton`` (keypoint index pairs). With ``image_size``
        and ``normalization`` (``mean``/``std``) the model gets its :class:`InputTransform` (which pads
        frames to multiples of ``pad_multiple`` instead of resizing them, for native-resolution models).
        ``cfg`` is not mutated.
        """
        check_keys(cls, cfg, where="model config")
        if "backbone" not in cfg or "heads" not in cfg:
            raise ConfigError(f"model config needs 'backbone' and 'heads' keys, got {sorted(cfg)}")
        label_keys = cfg.get("label_keys") or {}

        def count(label_key: str, where: str) -> int | None:
            if not isinstance(num_keypoints, Mapping):
                return num_keypoints
            if label_key not in num_keypoints:
                raise ConfigError(f"model config {where} is {label_key!r}; the data has {sorted(num_keypoints)}")
            return num_keypoints[label_key]

        backbone = BACKBONES.build(cfg["backbone"])
        neck = build_neck(cfg.get("neck"), backbone, count(DEFAULT_LABEL_KEY, "label key"))
        feature = neck or backbone
        heads = {}
        for name, head_cfg in cfg["heads"].items():
            if not isinstance(head_cfg, Mapping) or "type" not in head_cfg:
                raise ConfigError(f"model config heads.{name} must be a dict with a 'type' key, got {head_cfg!r}")
            label_key = label_keys.get(name, DEFAULT_LABEL_KEY)
            if pad_multiple is not None and HEADS.get(head_cfg["type"]).fixed_input_size:
                raise ConfigError(f"model config heads.{name}: {head_cfg['type']} is sized for one input size and "
                                  "cannot run on whole frames of native-resolution data (data.native_resolution); "
                                  "use a fully convolutional head (e.g. HeatmapHead) or resize frames instead")
            head_cfg = HEADS.get(head_cfg["type"]).fill_sizes(
                dict(head_cfg), feature.out_channels, count(label_key, f"label_keys.{name}"), image_size=image_size,
                in_stride=feature.stride, skeleton=skeleton if label_key == DEFAULT_LABEL_KEY else None)
            heads[name] = HEADS.build(head_cfg)
        input_transform = None if image_size is None or normalization is None else \
            InputTransform(image_size, normalization["mean"], normalization["std"], pad_multiple)
        return cls(backbone=backbone, heads=heads, neck=neck, label_keys=label_keys, input_transform=input_transform)

    def forward(self, images: torch.Tensor) -> ModelOutputs:
        features = self.backbone(images)
        if self.neck is not None:
            features = self.neck(features)
        return {name: head(features) for name, head in self.heads.items()}

    def get_targets(self, batch: PoseBatch, outputs: ModelOutputs) -> dict[str, HeadTargets]:
        """Targets per head from the batch's labels."""
        return {
            name: head.get_targets(batch[self.label_keys[name]], outputs[name], self.head_strides[name])
            for name, head in self.heads.items()
        }

    def get_loss(self, outputs: ModelOutputs, targets: dict[str, HeadTargets]) -> dict[str, torch.Tensor]:
        """``{"total": sum of head totals, "<head>/<output>": term, ...}``."""
        losses: dict[str, torch.Tensor] = {}
        for name, head in self.heads.items():
            head_losses = head.get_loss(outputs[name], targets[name])
            losses.update({f"{name}/{term}": value for term, value in head_losses.items()})
        losses["total"] = sum(losses[f"{name}/total"] for name in self.heads)
        return losses

    def head_for(self, label_key: str) -> str | None:
        """Name of the first head trained on batch key ``label_key`` (e.g. ``"unique_keypoints"``), or None."""
        return next((name for name, key in self.label_keys.items() if key == label_key), None)

    @property
    def keypoints_head(self) -> str:
        """The head trained on ``"keypoints"`` (the first such one, in config order), wherever it is listed.

        It is the one head validation, ``predict``, ``lpa analyze``, top-down inference and export decode
        as "the keypoints"; a head trained on another label key (e.g. unique bodyparts) never stands in.
        """
        name = self.head_for(DEFAULT_LABEL_KEY)
        if name is None:
            raise ConfigError(f"no head is trained on {DEFAULT_LABEL_KEY!r} (label_keys: {self.label_keys}): "
                              f"leave one head's label_keys entry unset or set it to {DEFAULT_LABEL_KEY!r}")
        return name

    def predict(self, outputs: ModelOutputs, names: Iterable[str | None] | None = None) -> dict[str, Prediction]:
        """Keypoints per head, ``[B, N, K, 3]`` in input-image pixels (only the heads in ``names``, if given;
        ``None`` entries are skipped, e.g. an absent :meth:`head_for`)."""
        names = self.heads.keys() if names is None else [name for name in names if name is not None]
        device_type = next(iter(outputs[next(iter(outputs))].values())).device.type
        # Decoded in float32 even after a mixed-precision forward: bf16 holds x = 600 only to ±2 px.
        with torch.autocast(device_type, enabled=False):
            return {name: self.heads[name].predict({key: value.float() for key, value in outputs[name].items()},
                                                   self.head_strides[name]) for name in names}

    def predict_inputs(
        self, images: torch.Tensor, names: Iterable[str | None] | None = None,
        flip_pairs: Mapping[str, Sequence[tuple[int, int]]] | None = None,
    ) -> dict[str, Prediction]:
        """Normalized inputs ``[B, 3, H, W]`` → keypoints per head in input pixels; with ``flip_pairs``
        (``{head name: left/right keypoint index pairs}``) those heads average the prediction with the one on
        the mirrored input (flip test-time augmentation; single-individual heads)."""
        predictions = self.predict(self(images), names)
        flipped = [name for name in predictions if flip_pairs is not None and name in flip_pairs]
        if flipped:
            mirrored = self.predict(self(images.flip(-1)), flipped)
            for name in flipped:
                keypoints = average_with_mirror(predictions[name]["keypoints"], mirrored[name]["keypoints"],
                                                images.shape[-1], flip_pairs[name])
                predictions[name] = {**predictions[name], "keypoints": keypoints}
        return predictions

    def predict_frames(
        self, frames: torch.Tensor, names: Iterable[str | None] | None = None,
        flip_pairs: Mapping[str, Sequence[tuple[int, int]]] | None = None,
    ) -> dict[str, Prediction]:
        """Frames as decoded → keypoints per head ``[B, N, K, 3]`` (x, y, score) in the frames' own pixels.

        ``frames`` is ``[B, H0, W0, 3]`` or ``[B, 3, H0, W0]``, uint8 (or float on the 0–255 scale), any size;
        :attr:`input_transform` resizes and normalizes them on the model's device; ``flip_pairs``: see
        :meth:`predict_inputs`.
        """
        if self.input_transform is None:
            raise ConfigError("this PoseModel has no input_transform: build it with image_size and normalization")
        frames = channels_first(frames)
        predictions = self.predict_inputs(self.input_transform(frames), names, flip_pairs)
        size = frame_sizes(frames)
        return {name: {**prediction, "keypoints": self.input_transform.to_frame(prediction["keypoints"], size)}
                for name, prediction in predictions.items()}


def backbone_features(backbone: BaseBackbone) -> tuple[int | list[int], int | list[int]]:
    """What ``backbone`` gives a neck: (channels, stride) ints for one map, lists (fine to coarse) if multi-scale."""
    if backbone.multi_scale:
        return backbone.feature_channels, backbone.feature_strides
    return backbone.out_channels, backbone.stride


def build_neck(neck_cfg: Mapping[str, Any] | None, backbone: BaseBackbone, num_keypoints: int | None) -> BaseNeck | None:
    """Build the neck from its config, its unset input sizes filled from ``backbone``; ``None`` for no neck."""
    if neck_cfg is None:
        return None
    if not isinstance(neck_cfg, Mapping) or "type" not in neck_cfg:
        raise ConfigError(f"model config neck must be a dict with a 'type' key or null, got {neck_cfg!r}")
    channels, strides = backbone_features(backbone)
    neck_cfg = NECKS.get(neck_cfg["type"]).fill_sizes(dict(neck_cfg), channels, strides, num_keypoints)
    return NECKS.build(neck_cfg)


def check_neck_input(backbone: BaseBackbone, neck: BaseNeck | None) -> None:
    """Raise :class:`ConfigError` unless ``neck`` (or, without one, the heads) can take what ``backbone`` gives."""
    channels, strides = backbone_features(backbone)
    backbone_name = type(backbone).__name__
    if neck is None:
        if backbone.multi_scale:
            raise ConfigError(
                f"{backbone_name} returns {len(channels)} feature maps (channels {channels}, strides {strides}; "
                "out_indices is set) but heads take one map: add a neck that merges them (neck: {type: FPN}) "
                "or unset the backbone's out_indices"
            )
        return
    if (neck.in_channels, neck.in_strides) != (channels, strides):
        raise ConfigError(
            f"{type(neck).__name__} expects input channels {neck.in_channels} at strides {neck.in_strides}, "
            f"{backbone_name} gives channels {channels} at strides {strides}"
        )
