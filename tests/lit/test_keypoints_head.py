""""The keypoints" is the head trained on them, wherever the config lists it (not the first head)."""

from __future__ import annotations

import copy

import lightning as L
import numpy as np
import pytest
import torch

from helpers import heatmap_model_cfg
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.data.synthetic_multi import example_multi_animal_project
from lightning_pose_arch.inference.export import KeypointExportModel
from lightning_pose_arch.inference.runner import Inferencer
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.registry import ConfigError


def model_cfg(unique_first: bool) -> dict:
    """The bodypart head and a unique-bodypart head (U = 1), in either order."""
    cfg = heatmap_model_cfg(num_deconv_layers=1, deconv_channels=8)
    bodypart = cfg["heads"]["bodypart"]
    order = ["unique", "bodypart"] if unique_first else ["bodypart", "unique"]
    cfg["heads"] = {name: copy.deepcopy(bodypart) for name in order}
    cfg["label_keys"] = {"unique": "unique_keypoints"}
    return cfg


@pytest.fixture(scope="module")
def modules() -> tuple[PoseDataModule, PoseLitModule, PoseLitModule]:
    """The data, and the same weights built from the unique-first and the bodypart-first config."""
    datamodule = PoseDataModule(example_multi_animal_project(), image_size=(160, 192), num_workers=0, batch_size=2,
                                predict_split="test")
    info = datamodule.dataset_info()
    torch.manual_seed(0)
    unique_first = PoseLitModule({"model": model_cfg(unique_first=True)}, dataset_info=info).eval()
    bodypart_first = PoseLitModule({"model": model_cfg(unique_first=False)}, dataset_info=info).eval()
    bodypart_first.load_state_dict(unique_first.state_dict())  # same names: the order does not matter
    return datamodule, unique_first, bodypart_first


def test_keypoints_head_is_the_one_trained_on_keypoints(modules) -> None:
    _, unique_first, _ = modules
    assert list(unique_first.model.heads) == ["unique", "bodypart"]
    assert unique_first.model.keypoints_head == "bodypart"


def test_a_model_without_a_keypoints_head_says_so(modules) -> None:
    model = modules[1].model
    saved = dict(model.label_keys)
    model.label_keys = {name: "unique_keypoints" for name in model.heads}
    try:
        with pytest.raises(ConfigError, match="no head is trained on 'keypoints'"):
            _ = model.keypoints_head
    finally:
        model.label_keys = saved


def test_validation_scores_the_keypoints_head(modules, tmp_path) -> None:
    datamodule, unique_first, bodypart_first = modules
    results = []
    for module in (unique_first, bodypart_first):
        trainer = L.Trainer(limit_val_batches=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                            default_root_dir=tmp_path)
        results.append(trainer.validate(module, datamodule, verbose=False)[0])
    assert results[0].keys() == results[1].keys() >= {"val/mean_pixel_error", "val/map"}
    for name, value in results[1].items():
        assert results[0][name] == pytest.approx(value, nan_ok=True), name


def test_predict_inference_and_export_decode_the_keypoints_head(modules) -> None:
    datamodule, unique_first, bodypart_first = modules
    datamodule.setup("predict")
    batch = next(iter(datamodule.predict_dataloader()))
    num_kpts = len(datamodule.bodyparts)
    with torch.no_grad():
        predicted = [module.predict_step(batch, 0) for module in (unique_first, bodypart_first)]
        exported = [KeypointExportModel(module)(batch["image"]) for module in (unique_first, bodypart_first)]
    assert predicted[0]["keypoints"].shape[2] == num_kpts and predicted[0]["unique_keypoints"].shape[2] == 1
    for key in ("keypoints", "unique_keypoints"):
        torch.testing.assert_close(predicted[0][key], predicted[1][key])
    assert exported[0].shape[2] == num_kpts
    torch.testing.assert_close(exported[0], exported[1])
    frames = np.random.default_rng(0).integers(0, 256, (2, 160, 192, 3), dtype=np.uint8)
    inferred = [Inferencer(module).predict(frames) for module in (unique_first, bodypart_first)]
    assert inferred[0]["keypoints"].shape[2] == num_kpts
    for key in ("keypoints", "unique_keypoints"):
        torch.testing.assert_close(inferred[0][key], inferred[1][key])
