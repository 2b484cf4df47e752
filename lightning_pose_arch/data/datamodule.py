"""PoseDataModule: a DeepLabCut project or COCO keypoints file → train/val/test/predict dataloaders of PoseBatch."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import CombinedLoader, rank_zero_info, rank_zero_warn
from torch.utils.data import DataLoader, get_worker_info

from lightning_pose_arch.data.dataset import PoseDataset
from lightning_pose_arch.data.formats import LabeledData, read_labeled_data
from lightning_pose_arch.data.images import DecodedImages, check_images, read_image
from lightning_pose_arch.data.native import NativeResolutionConfig
from lightning_pose_arch.data.formats.dlc import project_identity
from lightning_pose_arch.data.split import SPLITS, load_split, make_split, save_split
from lightning_pose_arch.data.topdown import TopDownConfig, TopDownDataset
from lightning_pose_arch.data.transforms import (
    IMAGENET_NORMALIZATION,
    AugmentationConfig,
    build_eval_transform,
    build_train_transform,
    infer_flip_pairs,
)
from lightning_pose_arch.data.validation import check_labels_inside_images, check_normalization, check_some_label
from lightning_pose_arch.data.video_clips import UnlabeledConfig, find_videos, with_unlabeled_clips
from lightning_pose_arch.registry import ConfigError, check_types

SIZE_MULTIPLE = 32  # the largest backbone stride: inputs must tile into whole feature cells
SPLIT_FILENAME = "split.json"
_SECTION_CLASSES = {"augmentation": AugmentationConfig, "crop": TopDownConfig, "unlabeled": UnlabeledConfig,
                    "native_resolution": NativeResolutionConfig}  # a recipe's data sections → their settings classes


class PoseDataModule(L.LightningDataModule):
    """Annotated images of a DeepLabCut project (single- or multi-animal) or a COCO keypoints file,
    split, augmented and batched.

    Batches are :class:`~lightning_pose_arch.data.types.PoseBatch`: ``image
    [B, 3, H, W]`` uint8 (normalized on the model's device), ``keypoints [B, N, K, 3]`` in input pixels,
    ``original_size [B, 2]`` and ``image_path``, plus ``unique_keypoints
    [B, 1, U, 3]`` when the project has unique bodyparts. In crop mode (``crop``
    set) a sample is one individual's crop
    (:class:`~lightning_pose_arch.data.types.TopDownSample`: ``keypoints
    [B, 1, K, 3]`` in crop pixels, plus ``crop_matrix [B, 2, 3]``,
    ``bboxes [B, 1, 4]`` and ``individual [B]``); the split is still by frame.

    Args:
        project_dir: DeepLabCut project folder (with ``config.yaml``), or a COCO keypoints
            ``.json`` file (image ``file_name``s relative to its folder).
        image_size: Network input ``[height, width]``, multiples of 32; frames are resized to it.
        batch_size: Training batch size.
        eval_batch_size: Validation/test/predict batch size (default: ``batch_size``).
        num_workers: DataLoader worker processes.
        seed: Seed of the split.
        train_fraction: Fraction of frames for training + validation (default: the
            project's first ``TrainingFraction``); the rest is the test split.
        val_fraction: Fraction of the training frames held out for validation; 0 trains without
            validation (the default checkpoint then keeps the latest epoch instead of the best).
        split_file: JSON split to reuse (if it exists) or to write (if not). By
            default the split is written to ``<trainer log dir>/split.json``.
        augmentation: Train-time augmentation settings.
        flip_pairs: Left/right bodypart name pairs swapped by horizontal flips (default: the
            file's, e.g. a COCO category's ``flip_pairs``, else inferred from names such as
            ``leftear``/``rightear``). Unique bodyparts' pairs are always inferred from their names.
        normalization: Image ``mean``/``std`` on the 0–1 scale (default: ImageNet); stored in ``dataset_info``
            for the model's input step, which normalizes on the device.
        predict_split: Frames ``predict`` runs on, whole and unaugmented (the training split too).
        crop: Top-down crop mode (one sample per labeled individual, cropped by its
            padded keypoint box to ``image_size``); ``None`` feeds whole frames.
        native_resolution: Train on ``image_size`` windows cut at the frames' own scale (near labeled
            keypoints) and evaluate/predict on whole frames padded to the stride, instead of resizing
            frames to ``image_size`` (see :mod:`~lightning_pose_arch.data.native`).
        cache_images: Decode every labeled image once at setup and keep them in memory (the size is
            printed), so training decodes nothing: for projects that fit in memory and fast accelerators.
        unlabeled: Unlabeled video for consistency losses: training batches become
            ``{"labeled": PoseBatch, "unlabeled": clips}`` (see :mod:`~lightning_pose_arch.data.video_clips`).
    """

    def __init__(
        self,
        project_dir: str | Path,
        image_size: tuple[int, int] = (288, 384),
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        num_workers: int = 2,
        seed: int = 42,
        train_fraction: float | None = None,
        val_fraction: float = 0.1,
        split_file: str | Path | None = None,
        augmentation: AugmentationConfig | None = None,
        flip_pairs: list[tuple[str, str]] | None = None,
        normalization: dict[str, list[float]] | None = None,
        predict_split: Literal["train", "val", "test", "all"] = "test",
        crop: TopDownConfig | None = None,
        unlabeled: UnlabeledConfig | None = None,
        native_resolution: NativeResolutionConfig | None = None,
        cache_images: bool = False,
    ) -> None:
        super().__init__()
        check_types(PoseDataModule, {k: v for k, v in locals().items() if k not in ("self", "__class__")},
                    where="PoseDataModule")
        _check_sizes(image_size=image_size, batch_size=batch_size, eval_batch_size=eval_batch_size or batch_size,
                     num_workers=num_workers)
        check_normalization(normalization)
        if native_resolution is not None and (crop is not None or unlabeled is not None):
            raise ConfigError("PoseDataModule native_resolution cannot be combined with crop (top-down crops are "
                              "resized to image_size) or unlabeled (clips are resized to image_size)")
        self.project: LabeledData = read_labeled_data(project_dir)
        check_some_label(self.project)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.normalization = normalization or dict(IMAGENET_NORMALIZATION)
        self.augmentation = augmentation or AugmentationConfig()
        self.flip_pairs = self._flip_pair_indices(flip_pairs)
        self.predict_split = predict_split
        self.crop = crop
        self.native_resolution = native_resolution
        self.cache_images = cache_images
        self.read_image: Callable[[Path], np.ndarray] = read_image  # a DecodedImages cache after setup, if asked
        self.unlabeled = unlabeled
        if unlabeled is not None:
            find_videos(unlabeled.videos)  # a missing video fails here, before training
        if crop is not None and self.project.unique_bodyparts:
            rank_zero_warn(f"crop mode crops each individual: the unique bodyparts {self.project.unique_bodyparts} "
                           "are not part of any crop and are not trained on; use whole frames to train them")
        self.split_file = Path(split_file) if split_file is not None else None
        self.split = self._load_or_make_split(train_fraction=train_fraction, val_fraction=val_fraction, seed=seed)
        # every split (and "all") with the evaluation transform, for val/test/predict; training draws from
        # train_dataset, the augmented view of the "train" split
        self.datasets: dict[str, PoseDataset | TopDownDataset] = {}
        self.train_dataset: PoseDataset | TopDownDataset | None = None
        self.image_sizes: dict[str, tuple[int, int]] = {}  # (width, height) of each labeled image, from setup

    @classmethod
    def from_config(cls, data: Mapping[str, Any], **overrides: Any) -> PoseDataModule:
        """A data module from a recipe's ``data`` mapping (as written in YAML, its sections plain dicts), as
        ``lpa fit`` builds it; ``overrides`` replace keys, e.g. ``project_dir``."""
        kwargs = {**data, **overrides}
        for key, settings_class in _SECTION_CLASSES.items():
            section = kwargs.get(key)
            if isinstance(section, Mapping):
                valid = {f.name for f in fields(settings_class)}
                if set(section) - valid:
                    raise ConfigError(f"data.{key} has unknown key(s) {sorted(set(section) - valid)}; valid: "
                                      f"{sorted(valid)}")
                kwargs[key] = settings_class(**section)
        return cls(**kwargs)

    @property
    def bodyparts(self) -> list[str]:
        return self.project.bodyparts

    @property
    def skeleton(self) -> list[list[str]]:
        return self.project.skeleton

    @property
    def num_keypoints(self) -> int:
        return len(self.project.bodyparts)

    @property
    def has_validation(self) -> bool:
        """False when the split holds no validation frames (``val_fraction=0``): fit then skips validation."""
        return len(self.split["val"]) > 0

    def dataset_info(self) -> dict[str, Any]:
        """What a model needs to know about the data, stored in its checkpoints."""
        return {
            "bodyparts": self.bodyparts,
            "individuals": self.project.individuals,
            "unique_bodyparts": self.project.unique_bodyparts,
            "sigmas": None if self.project.sigmas is None else [float(s) for s in self.project.sigmas],
            "skeleton": self.skeleton,
            "image_size": list(self.image_size),
            "normalization": self.normalization,
            "flip_pairs": [[self.bodyparts[i], self.bodyparts[j]] for i, j in self.flip_pairs],
            "top_down": None if self.crop is None else {"padding": self.crop.padding},
            "native_resolution": None if self.native_resolution is None else {
                "pad_multiple": self.native_resolution.pad_multiple},
            "dlc_project": project_identity(self.project.config),  # names DeepLabCut-compatible outputs
        }

    def _load_or_make_split(self, *, train_fraction: float | None, val_fraction: float, seed: int) -> dict[str, list[str]]:
        """The split of ``split_file`` if that file exists, else a new seeded one (by default with the
        project's first ``TrainingFraction``)."""
        if self.split_file is not None and self.split_file.is_file():
            return load_split(self.split_file, self.project.image_paths)
        if train_fraction is None:
            train_fraction = float((self.project.config.get("TrainingFraction") or [0.95])[0])
        return make_split(self.project.image_paths, train_fraction, val_fraction, seed)

    def _flip_pair_indices(self, flip_pairs: list[tuple[str, str]] | None) -> list[tuple[int, int]]:
        flip_pairs = flip_pairs if flip_pairs is not None else self.project.flip_pairs
        if flip_pairs is None:
            return infer_flip_pairs(self.bodyparts)
        index = {name: i for i, name in enumerate(self.bodyparts)}
        unknown = sorted({name for pair in flip_pairs for name in pair} - set(index))
        if unknown:
            raise ConfigError(f"flip_pairs name unknown bodyparts {unknown}; bodyparts are {self.bodyparts}")
        return [(index[a], index[b]) for a, b in flip_pairs]

    def setup(self, stage: str | None = None) -> None:
        if not self.datasets:  # every image decoded once; labels must lie on them
            self.image_sizes = check_images(self.project.root, self.project.image_paths)
            check_labels_inside_images(self.project, self.image_sizes)
            if self.cache_images:
                self.read_image = DecodedImages([self.project.root / p for p in self.project.image_paths])
                rank_zero_info(f"cache_images: {len(self.read_image.images)} decoded images held in memory, "
                               f"{self.read_image.nbytes / 2**20:.0f} MB")
        self._save_split()
        self._build_datasets()

    def _build_datasets(self) -> None:
        train = build_train_transform(self.image_size, self.augmentation, self.flip_pairs,
                                      unique_flip_pairs=infer_flip_pairs(self.project.unique_bodyparts),
                                      native_resolution=self.native_resolution)
        evaluation = build_eval_transform(self.eval_size, self.native_resolution)
        self.train_dataset = self._dataset("train", train)
        self.datasets = {name: self._dataset(name, evaluation) for name in (*SPLITS, "all")}

    @property
    def eval_size(self) -> tuple[int, int]:
        """(H, W) of evaluation inputs: ``image_size``, or in native-resolution mode the largest frame padded."""
        if self.native_resolution is None:
            return self.image_size
        return self.native_resolution.padded_size(max(h for _, h in self.image_sizes.values()),
                                                  max(w for w, _ in self.image_sizes.values()))

    def _dataset(self, split: str, transform: Any) -> PoseDataset | TopDownDataset:
        paths = self.project.image_paths if split == "all" else self.split[split]
        row = {path: i for i, path in enumerate(self.project.image_paths)}
        rows = [row[p] for p in paths]
        keypoints = self.project.keypoints[rows] if paths else np.zeros((0, 1, 1, 3), np.float32)
        if self.crop is not None:  # crops are per individual: unique keypoints are not cropped
            return TopDownDataset(self.project.root, list(paths), keypoints, self.image_size, transform,
                                  padding=self.crop.padding, read=self.read_image)
        return PoseDataset(self.project.root, list(paths), keypoints, transform,
                           unique_keypoints=self.project.unique_keypoints[rows] if paths else None,
                           read=self.read_image)

    def _save_split(self) -> None:
        path = self.split_file
        if path is None and self.trainer is not None:  # log_dir is a collective call: every process makes it
            path = Path(self.trainer.log_dir or self.trainer.default_root_dir) / SPLIT_FILENAME
        first_process = self.trainer is None or self.trainer.is_global_zero
        if path is not None and first_process and not path.is_file():
            save_split(self.split, path)

    def state_dict(self) -> dict[str, Any]:
        return {"split": self.split, "dataset_info": self.dataset_info()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the split a checkpoint was trained with (resuming), rebuilding the datasets if it differs."""
        split = state_dict["split"]
        unknown = sorted(set().union(*split.values()) - set(self.project.image_paths))
        if unknown:
            raise ConfigError(f"the checkpoint's split lists frames that are not labeled in {self.project.root}: "
                              f"{unknown[:5]}; resume with the project the checkpoint was trained on")
        if split != self.split:
            rank_zero_warn("the checkpoint's train/val/test split differs from this data module's; resuming with "
                           "the checkpoint's split")
            self.split = split
            if self.datasets:
                self._build_datasets()

    def _loader(self, split: str, training: bool) -> DataLoader:
        """Batches of ``split``: augmented and shuffled for ``training``, else whole frames in order."""
        if not self.datasets:
            self.setup()
        dataset = self.train_dataset if training else self.datasets[split]
        if len(dataset) == 0:
            raise ConfigError(f"the {split!r} split of {self.project.root} is empty ({self._split_sizes()}); "
                              "raise train_fraction (test) or val_fraction (val), or pass another split_file")
        if training:  # augmentations draw from their own generator: seed it from torch's (seed_everything)
            _reseed_transform(dataset, int(torch.randint(0, 2**31 - 1, (1,)).item()))
        return DataLoader(
            dataset,
            batch_size=self.batch_size if training else self.eval_batch_size,
            shuffle=training,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),  # page-locked batches copy to the GPU asynchronously
            worker_init_fn=_reseed_worker_transform if training else None,
        )

    def _split_sizes(self) -> str:
        return ", ".join(f"{name}: {len(self.split[name])} frames" for name in SPLITS)

    def train_dataloader(self) -> DataLoader | CombinedLoader:
        labeled = self._loader("train", training=True)
        if self.unlabeled is None:
            return labeled
        return with_unlabeled_clips(labeled, self.unlabeled, self.image_size, self.num_workers)

    def val_dataloader(self) -> DataLoader | list:
        if not self.has_validation:
            return []  # val_fraction=0: no validation
        return self._loader("val", training=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", training=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.predict_split, training=False)


def _check_sizes(*, image_size: Sequence[int], batch_size: int, eval_batch_size: int, num_workers: int) -> None:
    """Sizes must be positive, ``image_size`` sides multiples of the stride, ``num_workers`` >= 0."""
    for name, value in {"image_size": image_size, "batch_size": batch_size, "eval_batch_size": eval_batch_size}.items():
        values = value if isinstance(value, (tuple, list)) else [value]
        if len(values) == 0 or any(int(v) <= 0 for v in values):
            raise ConfigError(f"PoseDataModule {name} must be positive, got {value!r}")
    if any(side % SIZE_MULTIPLE for side in image_size):
        raise ConfigError(f"PoseDataModule image_size {list(image_size)} must be multiples of {SIZE_MULTIPLE}")
    if num_workers < 0:
        raise ConfigError(f"PoseDataModule num_workers must be >= 0, got {num_workers}")


def _reseed_transform(dataset: Any, seed: int) -> None:
    reseed = getattr(getattr(dataset, "transform", None), "reseed", None)
    if reseed is not None:
        reseed(seed)


def _reseed_worker_transform(worker_id: int) -> None:
    """Give each DataLoader worker its own augmentation stream, derived from torch's per-worker seed."""
    _reseed_transform(get_worker_info().dataset, torch.initial_seed() % 2**31)
