"""PoseLitModule: a PoseModel trained, evaluated and run by Lightning."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import nn
from torchmetrics import MetricCollection

from lightning_pose_arch.data.topdown import uncrop_keypoints
from lightning_pose_arch.data.transforms import IMAGENET_NORMALIZATION, infer_flip_pairs
from lightning_pose_arch.data.types import ModelOutputs, PoseBatch
from lightning_pose_arch.lit.coco_metrics import OKSMeanAveragePrecision
from lightning_pose_arch.lit.metrics import (
    PCK,
    MatchedMeanPixelError,
    MatchedMissRate,
    MatchedRootMeanSquareError,
    MeanPixelError,
    RootMeanSquareError,
)
from lightning_pose_arch.lit.optim import build_optimizer, build_scheduler, check_optimization
from lightning_pose_arch.lit.resolution import parse_resolution_schedule, resize_labels, scale_at, scaled_size
from lightning_pose_arch.models.data_fit import check_model_fits_data
from lightning_pose_arch.lit.semisupervised import ConsistencyTerms
from lightning_pose_arch.models.pose_model import PoseModel
from lightning_pose_arch.registry import ConfigError, check_cfg_keys

CFG_KEYS = ("model", "optimizer", "scheduler", "metrics", "consistency", "channels_last", "compile",
            "resolution_schedule")
COMPILE_KEYS = ("mode", "dynamic", "fullgraph", "backend")  # torch.compile's arguments a recipe may set
DEFAULT_OPTIMIZER = {"type": "AdamW", "lr": 1e-3, "weight_decay": 1e-4}
EVAL_STAGES = ("val", "test")
TRAINED_INPUT_SIZE = "trained_input_size"  # checkpoint entry: (H, W) the weights were last trained at


def _check_cfg(cfg: Mapping[str, Any]) -> None:
    check_cfg_keys(cfg, "PoseLitModule", required="model", valid=CFG_KEYS)
    unknown = set(cfg.get("metrics") or {}) - {"pck_threshold"}
    if unknown:
        raise ConfigError(f"PoseLitModule cfg.metrics has unknown keys {sorted(unknown)}; valid: ['pck_threshold']")
    check_optimization(cfg, DEFAULT_OPTIMIZER)
    if not isinstance(cfg.get("channels_last", False), bool):
        raise ConfigError(f"PoseLitModule cfg.channels_last must be true or false, got {cfg['channels_last']!r}")
    compile_options(cfg.get("compile"))


def compile_options(value: Any) -> dict[str, Any] | None:
    """``cfg.compile`` → keyword arguments of ``torch.compile``; ``None`` when the model stays eager."""
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, Mapping) and set(value) <= set(COMPILE_KEYS):
        return dict(value)
    raise ConfigError(f"PoseLitModule cfg.compile must be true, false or a dict of torch.compile arguments "
                      f"{list(COMPILE_KEYS)}, e.g. {{mode: max-autotune}}, got {value!r}")


class PoseLitModule(L.LightningModule):
    """Train, evaluate and run a :class:`PoseModel` described by a plain dict.

    ``cfg`` keys: ``model`` (see :meth:`PoseModel.from_config`), ``optimizer``
    (``{"type": <torch.optim class>, ...}``, default AdamW lr 1e-3),
    ``scheduler`` (``{"type": <lr_scheduler class>, ..., "interval": ...}`` or
    absent), ``metrics`` (``{"pck_threshold": pixels}``), ``consistency`` (losses on unlabeled
    video clips, see :class:`~lightning_pose_arch.lit.semisupervised.ConsistencyTerms`; needs a
    ``PoseDataModule(unlabeled=...)``), ``channels_last`` (``true``: weights and activations in
    channels-last memory order, for training and inference: faster convolutions on most GPUs and
    with oneDNN on CPUs; see ``benchmarks/train_step.py``), ``compile`` (``true`` or a dict of
    ``torch.compile`` arguments, e.g. ``{mode: max-autotune, dynamic: false}``: the network's forward
    is compiled for training; the first steps pay the compile time, checkpoints stay plain),
    ``resolution_schedule`` (progressive resizing, ``{start epoch: fraction of data.image_size}`` ending
    at 1.0, e.g. ``{0: 0.5, 30: 1.0}``: earlier epochs train and validate on smaller inputs, see
    :mod:`~lightning_pose_arch.lit.resolution`).

    The model is built as soon as ``dataset_info`` (bodyparts, image size,
    normalization; see ``PoseDataModule.dataset_info``) is known: at
    construction when given, else in ``setup`` from the trainer's datamodule.
    Checkpoints carry ``cfg`` and ``dataset_info``, so
    ``PoseLitModule.load_from_checkpoint(path)`` rebuilds everything.

    Metrics (val/test, in original image pixels, ``PoseModel.keypoints_head``), logged at epoch end:
    ``mean_pixel_error``, ``rmse``, ``pck``; for multi-animal data (more than one
    individual) instead ``mean_pixel_error`` and ``rmse`` after optimal matching of
    predicted to labeled individuals, over the keypoints predicted, ``miss_rate`` (the
    share of labeled keypoints without a prediction), and COCO OKS ``map``, ``map_50``, ``map_75``,
    ``mar``, ... (with the data's OKS sigmas when it has them).

    Batches carry uint8 images; the model's
    :class:`~lightning_pose_arch.models.preprocess.InputTransform` normalizes them on the device.

    Args:
        cfg: The configuration dict (e.g. a loaded YAML); copied, never mutated.
        dataset_info: Data facts the model depends on; filled from the datamodule when ``None``.
        flip_test: ``predict`` averages each prediction with the one on the mirrored image (left/right
            keypoints swapped; single-individual heads). An inference option, not stored in checkpoints.
    """

    def __init__(self, cfg: dict[str, Any], dataset_info: dict[str, Any] | None = None,
                 flip_test: bool = False) -> None:
        super().__init__()
        _check_cfg(cfg)
        self.resolution_schedule = parse_resolution_schedule(cfg.get("resolution_schedule"))  # checked here, once
        self.flip_test = flip_test
        self.save_hyperparameters({"cfg": copy.deepcopy(dict(cfg)), "dataset_info": copy.deepcopy(dataset_info)})
        self.metrics = nn.ModuleDict()
        self.model: PoseModel | None = None
        self.consistency = ConsistencyTerms.from_config(cfg["consistency"]) if cfg.get("consistency") else None
        if dataset_info is not None:
            self._build_model(dataset_info)

    @property
    def dataset_info(self) -> dict[str, Any] | None:
        return self.hparams["dataset_info"]

    def _build_model(self, dataset_info: dict[str, Any]) -> None:
        bodyparts = list(dataset_info["bodyparts"])
        counts = {"keypoints": len(bodyparts), "unique_keypoints": len(dataset_info.get("unique_bodyparts") or [])}
        self.model = PoseModel.from_config(self.hparams["cfg"]["model"], num_keypoints=counts,
                                           image_size=dataset_info.get("image_size"),
                                           skeleton=skeleton_indices(dataset_info.get("skeleton"), bodyparts),
                                           normalization=dataset_info.get("normalization") or IMAGENET_NORMALIZATION,
                                           pad_multiple=(dataset_info.get("native_resolution") or {}).get("pad_multiple"))
        threshold = float((self.hparams["cfg"].get("metrics") or {}).get("pck_threshold", 5.0))
        if self.hparams["cfg"].get("channels_last"):
            self.model.to(memory_format=torch.channels_last)
        self.metrics = nn.ModuleDict({stage: build_metrics(dataset_info, threshold, prefix=f"{stage}/")
                                      for stage in EVAL_STAGES})
        self.hparams["dataset_info"] = copy.deepcopy(dict(dataset_info))

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        data_info = datamodule.dataset_info() if hasattr(datamodule, "dataset_info") else None
        if self.model is None:
            if data_info is None:
                raise ConfigError("PoseLitModule needs dataset_info=... or a PoseDataModule passed to the Trainer")
            self._build_model(data_info)
        elif data_info is not None and data_info["bodyparts"] != self.dataset_info["bodyparts"]:
            raise ConfigError(f"the model was built for bodyparts {self.dataset_info['bodyparts']}, "
                              f"the data has {data_info['bodyparts']}")
        if stage == "fit":  # fail now, not in the first training step
            check_model_fits_data(self.model, self.dataset_info, self.hparams["cfg"]["model"].get("heads") or {})
            options = compile_options(self.hparams["cfg"].get("compile"))
            if options is not None:  # in place: the state dict keeps its keys, so checkpoints load uncompiled
                self.model.compile(**options)
        if stage == "fit":
            self._check_resolution_schedule()
        if self.consistency is not None and stage == "fit":
            self.consistency.fit(self.model, datamodule)
        elif stage == "fit" and getattr(datamodule, "unlabeled", None) is not None:
            raise ConfigError("the data module has unlabeled videos but cfg has no 'consistency' losses for them")

    def _check_resolution_schedule(self) -> None:
        """Progressive resizing needs the model's input step to resize: not top-down crops or native resolution."""
        if self.resolution_schedule is None:
            return
        modes = [mode for mode in ("top_down", "native_resolution") if self.dataset_info.get(mode)]
        if modes or self._require_model().input_transform is None:
            raise ConfigError(f"PoseLitModule cfg.resolution_schedule needs data that is resized to data.image_size; "
                              f"this data is in {modes or 'no resize'} mode: remove the schedule or those data sections")
        full_size_from, max_epochs = max(self.resolution_schedule), self.trainer.max_epochs
        if max_epochs is not None and 0 < max_epochs <= full_size_from:  # -1: no limit
            last_size = self._scheduled_size(max_epochs - 1)
            rank_zero_warn(f"cfg.resolution_schedule reaches the full data.image_size at epoch {full_size_from}, but "
                           f"trainer.max_epochs is {max_epochs}: the model ends trained at {list(last_size)} and is "
                           f"saved and used at that size")

    def on_train_epoch_start(self) -> None:
        if self.resolution_schedule is not None:
            self._set_input_size(self._scheduled_size(self.current_epoch))

    def _scheduled_size(self, epoch: int) -> tuple[int, int]:
        """The input size (H, W) ``cfg.resolution_schedule`` trains ``epoch`` at."""
        return scaled_size(self.dataset_info["image_size"], scale_at(self.resolution_schedule, epoch))

    def _set_input_size(self, size: tuple[int, int] | list[int]) -> None:
        """Resize batches to ``size`` (H, W) in the model's input step (labels follow in :meth:`_shared_step`)."""
        self._require_model().input_transform.input_size = (int(size[0]), int(size[1]))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record the input size the weights were trained at: under a resolution schedule, a checkpoint of an
        early epoch (a "best" one, or the last of a shortened run) was trained below data.image_size."""
        if self.resolution_schedule is not None:
            checkpoint[TRAINED_INPUT_SIZE] = list(self._require_model().input_transform.input_size)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse, before any weight is copied, a checkpoint made for other bodyparts or another architecture;
        run the model at the input size its weights were trained at."""
        if self.model is not None:
            source = getattr(self._trainer, "ckpt_path", None) or "the checkpoint"
            check_checkpoint_fits(self, checkpoint, str(source))
            if TRAINED_INPUT_SIZE in checkpoint:
                self._set_input_size(checkpoint[TRAINED_INPUT_SIZE])

    def _require_model(self) -> PoseModel:
        if self.model is None:
            raise RuntimeError("PoseLitModule's model is built once dataset_info is known: pass dataset_info= "
                               "or run it through a Trainer with a PoseDataModule")
        return self.model

    def forward(self, images: torch.Tensor) -> ModelOutputs:
        return self._require_model()(images)

    def training_step(self, batch: PoseBatch | dict[str, Any], batch_idx: int) -> torch.Tensor:
        if "unlabeled" in batch:  # PoseDataModule(unlabeled=...): labeled frames + unlabeled clips
            return self._shared_step(batch["labeled"], "train") + self._consistency_step(batch["unlabeled"])
        return self._shared_step(batch, "train")

    def _consistency_step(self, clips: dict[str, torch.Tensor]) -> torch.Tensor:
        losses = self.consistency(self._require_model(), clips, self.current_epoch)
        self.log_dict({f"train/consistency/{name}": value for name, value in losses.items()},
                      batch_size=clips["frames"].shape[0], on_step=True, on_epoch=True)
        return losses["total"]

    def validation_step(self, batch: PoseBatch, batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "val")

    def test_step(self, batch: PoseBatch, batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "test")

    def _shared_step(self, batch: PoseBatch, stage: str) -> torch.Tensor:
        model = self._require_model()
        data_size = tuple(self.dataset_info.get("image_size") or ())
        if model.input_transform is not None and data_size and model.input_transform.input_size != data_size:
            batch = resize_labels(batch, data_size, model.input_transform.input_size)  # progressive resizing
        outputs = model(model.input_transform(batch["image"]))
        losses = model.get_loss(outputs, model.get_targets(batch, outputs))
        batch_size = batch["image"].shape[0]
        logged = {f"{stage}/loss/{name}": value for name, value in losses.items() if name != "total"}
        self.log_dict(logged, batch_size=batch_size, on_step=stage == "train", on_epoch=True,
                      sync_dist=stage != "train", prog_bar=False)
        self.log(f"{stage}/loss", losses["total"], batch_size=batch_size, prog_bar=True,
                 on_step=stage == "train", on_epoch=True, sync_dist=stage != "train")
        if stage in EVAL_STAGES:
            predicted = self._keypoints_in_original_pixels(outputs, batch)
            target = self._to_original_pixels(batch["keypoints"], batch)
            self.metrics[stage].update(predicted, target)
        return losses["total"]

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")

    def _log_metrics(self, stage: str) -> None:
        """Compute (synchronized across processes by torchmetrics), log and reset ``stage``'s metrics."""
        metrics = self.metrics[stage]
        if any(metric.update_called for metric in metrics.values()):
            self.log_dict({name: value.float() for name, value in metrics.compute().items()}, prog_bar=True)
        metrics.reset()

    def _to_original_pixels(self, keypoints: torch.Tensor, batch: PoseBatch) -> torch.Tensor:
        """``[B, N, K, 3]`` from network-input (or crop) pixels to the image files' pixels: the inverse of the
        crop, else of the model's own input step (a resize, or padding for native-resolution models)."""
        if "crop_matrix" in batch:
            return uncrop_keypoints(keypoints, batch["crop_matrix"]).to(keypoints.dtype)
        return self._require_model().input_transform.to_frame(keypoints, batch["original_size"])

    def _keypoints_in_original_pixels(self, outputs: ModelOutputs, batch: PoseBatch,
                                      label_key: str = "keypoints") -> torch.Tensor | None:
        """Keypoints ``[B, N, K, 3]`` (x, y, score) in the image files' pixels, decoded by one head only:
        ``PoseModel.keypoints_head`` for ``"keypoints"``, else the head trained on ``label_key``
        (``None`` if there is none)."""
        model = self._require_model()
        head = model.keypoints_head if label_key == "keypoints" else model.head_for(label_key)
        if head is None:
            return None
        return self._to_original_pixels(model.predict(outputs, [head])[head]["keypoints"], batch)

    def predict_step(self, batch: PoseBatch, batch_idx: int, dataloader_idx: int = 0) -> dict[str, Any]:
        """``{"keypoints": [B, N, K, 3] (x, y, score) in file pixels, "image_path": [B]}``.

        In crop mode each row is one individual's crop (``N = 1``) and ``"individual" [B]`` says which.
        A head trained on unique bodyparts adds ``"unique_keypoints" [B, 1, U, 3]``.
        """
        model = self._require_model()
        heads = {"keypoints": model.keypoints_head, "unique_keypoints": model.head_for("unique_keypoints")}
        flip_pairs = self.flip_pairs_by_head() if self.flip_test else None
        predictions = model.predict_inputs(model.input_transform(batch["image"]), heads.values(), flip_pairs)
        result = {key: self._to_original_pixels(predictions[head]["keypoints"], batch)
                  for key, head in heads.items() if head is not None}
        result["image_path"] = list(batch["image_path"])
        if "individual" in batch:
            result["individual"] = batch["individual"]
        return result

    def flip_pairs_by_head(self) -> dict[str, list[tuple[int, int]]]:
        """Left/right keypoint index pairs per head, for flip test-time augmentation (from ``dataset_info``:
        its ``flip_pairs`` names, else inferred from the bodypart names)."""
        model, info = self._require_model(), self.dataset_info
        bodyparts = list(info["bodyparts"])
        index = {name: i for i, name in enumerate(bodyparts)}
        named = info.get("flip_pairs")
        pairs = infer_flip_pairs(bodyparts) if named is None else [(index[a], index[b]) for a, b in named]
        by_label = {"keypoints": pairs, "unique_keypoints": infer_flip_pairs(list(info.get("unique_bodyparts") or []))}
        return {name: by_label.get(key, []) for name, key in model.label_keys.items()}

    def configure_optimizers(self) -> Any:
        cfg = self.hparams["cfg"]
        optimizer = build_optimizer(cfg.get("optimizer") or DEFAULT_OPTIMIZER, self._require_model().parameters())
        if not cfg.get("scheduler"):
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": build_scheduler(cfg["scheduler"], optimizer)}


def build_metrics(dataset_info: Mapping[str, Any], pck_threshold: float, prefix: str) -> MetricCollection:
    """Single-animal: pixel errors and PCK; multi-animal: matched pixel errors and OKS mAP/mAR."""
    if len(dataset_info.get("individuals") or []) > 1:
        metrics = {"mean_pixel_error": MatchedMeanPixelError(), "rmse": MatchedRootMeanSquareError(),
                   "miss_rate": MatchedMissRate(), "oks": OKSMeanAveragePrecision(sigmas=dataset_info.get("sigmas"))}
    else:
        metrics = {"mean_pixel_error": MeanPixelError(), "rmse": RootMeanSquareError(), "pck": PCK(pck_threshold)}
    return MetricCollection(metrics, prefix=prefix)


def skeleton_indices(skeleton: list[list[str]] | None, bodyparts: list[str]) -> list[tuple[int, int]] | None:
    """Skeleton edges between ``bodyparts`` as index pairs (``None`` without any).

    Edges naming a unique bodypart are left out: those have their own head, not part of any individual.
    """
    index = {name: i for i, name in enumerate(bodyparts)}
    edges = [(index[a], index[b]) for a, b in skeleton or [] if a in index and b in index]
    return edges or None


def check_checkpoint_fits(module: PoseLitModule, checkpoint: Mapping[str, Any], source: str) -> None:
    """Raise :class:`ConfigError` naming the difference when ``checkpoint`` was not made for ``module``."""
    saved_info = (checkpoint.get("hyper_parameters") or {}).get("dataset_info") or {}
    ours, theirs = (module.dataset_info or {}).get("bodyparts"), saved_info.get("bodyparts")
    if ours is not None and theirs is not None and list(ours) != list(theirs):
        raise ConfigError(f"{source} was trained for bodyparts {list(theirs)}, this model is built for {list(ours)}: "
                          "use a checkpoint trained on data with the same bodyparts, in the same order")
    if not getattr(module, "strict_loading", True):
        return
    own, saved = module.state_dict(), checkpoint.get("state_dict") or {}
    missing, unexpected = sorted(set(own) - set(saved)), sorted(set(saved) - set(own))
    resized = [f"{k}: checkpoint {list(saved[k].shape)}, model {list(own[k].shape)}"
               for k in sorted(set(own) & set(saved)) if tuple(saved[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or resized:
        saved_model = ((checkpoint.get("hyper_parameters") or {}).get("cfg") or {}).get("model")
        raise ConfigError(
            f"{source} does not fit this model ({len(missing)} missing weights, e.g. {missing[:2]}; "
            f"{len(unexpected)} unexpected, e.g. {unexpected[:2]}; "
            f"{len(resized)} with other shapes, e.g. {resized[:2]}). "
            f"It was trained with model config {saved_model}; build the module with that config to load it"
        )
