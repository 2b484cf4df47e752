import copy
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch

from helpers import heatmap_model_cfg
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.data.synthetic_multi import example_multi_animal_project
from lightning_pose_arch.data.topdown import TopDownConfig
from lightning_pose_arch.data.transforms import AugmentationConfig
from lightning_pose_arch.inference.analyze import analyze
from lightning_pose_arch.inference.writer import PredictionWriter
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.registry import ConfigError


def cfg(**overrides) -> dict:
    return {"model": heatmap_model_cfg(), "optimizer": {"type": "AdamW", "lr": 3e-3}, **overrides}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (dict(optimiser={"type": "Adam"}), "no key 'optimiser'; did you mean 'optimizer'"),
        (dict(optimizer={"type": "Adamm"}), "did you mean 'Adam'"),
        (dict(scheduler={"type": "StepLR", "step_sise": 2}), "did you mean 'step_size'"),
        (dict(metrics={"pck": 3}), "metrics has unknown keys"),
        (dict(compile={"mod": "max-autotune"}), r"cfg.compile must be true, false or a dict of torch.compile"),
        (dict(compile="yes"), r"cfg.compile must be"),
    ],
)
def test_bad_config_fails_at_construction(bad: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PoseLitModule(cfg(**bad))


def test_unknown_head_type_fails_before_training(synthetic_project: Path, tmp_path: Path) -> None:
    model_cfg = heatmap_model_cfg()
    model_cfg["heads"]["bodypart"]["type"] = "HeatmapHaed"
    trainer = L.Trainer(max_steps=1, default_root_dir=tmp_path, logger=False, enable_checkpointing=False)
    datamodule = PoseDataModule(synthetic_project, image_size=(64, 96), num_workers=0, batch_size=4)
    with pytest.raises(ConfigError, match="HEADS has no type 'HeatmapHaed'; did you mean 'HeatmapHead'"):
        trainer.fit(PoseLitModule({"model": model_cfg}), datamodule)


def test_fit_then_checkpoint_is_self_describing(synthetic_project: Path, tmp_path: Path) -> None:
    datamodule = PoseDataModule(synthetic_project, image_size=(64, 96), num_workers=0, batch_size=4, val_fraction=0.25)
    trainer = L.Trainer(max_epochs=2, default_root_dir=tmp_path, enable_progress_bar=False, log_every_n_steps=1)
    module = PoseLitModule(cfg(scheduler={"type": "CosineAnnealingLR", "T_max": 2}))
    trainer.fit(module, datamodule)
    assert {"train/loss", "val/loss", "val/mean_pixel_error", "val/rmse", "val/pck"} <= set(trainer.callback_metrics)
    assert "train/loss/bodypart/heatmap" in trainer.logged_metrics or "train/loss/bodypart/heatmap_epoch" in trainer.logged_metrics
    checkpoint = tmp_path / "model.ckpt"
    trainer.save_checkpoint(checkpoint)
    loaded = PoseLitModule.load_from_checkpoint(checkpoint)
    assert loaded.dataset_info["bodyparts"] == datamodule.bodyparts
    assert loaded.dataset_info["normalization"] == datamodule.normalization
    images = torch.randn(2, 3, 64, 96)
    module.eval(), loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), module(images))


def test_predict_returns_file_pixel_keypoints(synthetic_project: Path, tmp_path: Path) -> None:
    datamodule = PoseDataModule(synthetic_project, image_size=(64, 96), num_workers=0, batch_size=4, predict_split="all")
    module = PoseLitModule(cfg(), dataset_info=datamodule.dataset_info())
    trainer = L.Trainer(default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    batches = trainer.predict(module, datamodule)
    keypoints = torch.cat([b["keypoints"] for b in batches])
    assert keypoints.shape == (16, 1, 4, 3)
    assert (keypoints[..., 0] >= -1).all() and (keypoints[..., 0] <= 128).all()  # file is 128 px wide
    assert ((keypoints[..., 2] >= 0) & (keypoints[..., 2] <= 1)).all()


def test_model_needs_dataset_info() -> None:
    module = PoseLitModule(cfg())
    with pytest.raises(RuntimeError, match="dataset_info"):
        module(torch.zeros(1, 3, 64, 64))


RTMCC_HEAD = {
    "type": "RTMCCHead", "hidden_dims": 16, "gau_attention_dims": 8, "predictor": {"type": "SimCCPredictor"},
    "target_generator": {"type": "SimCCGenerator"}, "criterion": {"type": "KLDiscreteLoss"},
}


@pytest.mark.parametrize("head", ["HeatmapHead", "RTMCCHead"])
def test_crop_mode_trains_evaluates_and_predicts_in_file_pixels(synthetic_project: Path, tmp_path: Path,
                                                                head: str) -> None:
    datamodule = PoseDataModule(synthetic_project, image_size=(64, 64), num_workers=0, batch_size=4,
                                val_fraction=0.25, predict_split="all", crop=TopDownConfig())
    model_cfg = heatmap_model_cfg()
    if head == "RTMCCHead":
        model_cfg["heads"]["bodypart"] = RTMCC_HEAD
    writer = PredictionWriter(output_dir=tmp_path / "predictions")
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, default_root_dir=tmp_path, enable_progress_bar=False,
                        callbacks=[writer], logger=False, enable_checkpointing=False)
    module = PoseLitModule({"model": model_cfg})
    trainer.fit(module, datamodule)
    assert {"val/mean_pixel_error", "val/pck"} <= set(trainer.callback_metrics)
    trainer.predict(module, datamodule)
    table = pd.read_hdf(writer.written[0])
    labeled = [p for p, k in zip(datamodule.project.image_paths, datamodule.project.keypoints) if (k[..., 2] > 0).any()]
    assert sorted(table.index) == sorted(labeled)  # crops gathered back into one row per frame
    xy = table.xs("x", level="coords", axis=1).to_numpy()
    assert np.isfinite(xy).all() and (xy >= -1).all() and (xy <= 128).all()  # file pixels (128 wide)


def test_crop_mode_labels_map_back_to_file_pixels_exactly(synthetic_project: Path) -> None:
    datamodule = PoseDataModule(synthetic_project, image_size=(64, 64), num_workers=0, batch_size=16,
                                predict_split="all", crop=TopDownConfig())
    batch = next(iter(datamodule.predict_dataloader()))
    module = PoseLitModule({"model": heatmap_model_cfg()}, dataset_info=datamodule.dataset_info())
    back = module._to_original_pixels(batch["keypoints"], batch)
    rows = [datamodule.project.image_paths.index(path) for path in batch["image_path"]]
    labels = torch.from_numpy(datamodule.project.keypoints[rows])
    labeled = labels[..., 2] > 0
    torch.testing.assert_close(back[..., :2][labeled], labels[..., :2][labeled], atol=1e-3, rtol=0)


def test_unique_bodyparts_are_trained_predicted_and_written(tmp_path: Path) -> None:
    """The bundled multi-animal project's unique "marker": its own head, its own columns (individual ``single``)."""
    project = example_multi_animal_project()
    datamodule = PoseDataModule(project, image_size=(160, 192), num_workers=0, batch_size=8, predict_split="test")
    model_cfg = heatmap_model_cfg()
    model_cfg["heads"]["unique"] = copy.deepcopy(model_cfg["heads"]["bodypart"])
    model_cfg["label_keys"] = {"unique": "unique_keypoints"}
    writer = PredictionWriter(output_dir=tmp_path / "predictions")
    trainer = L.Trainer(max_steps=1, limit_val_batches=1, default_root_dir=tmp_path, enable_progress_bar=False,
                        callbacks=[writer], logger=False, enable_checkpointing=False)
    module = PoseLitModule({"model": model_cfg})
    trainer.fit(module, datamodule)
    assert module.model.heads["unique"].heatmap_branch(torch.zeros(1, 512, 5, 6)).shape[1] == 1  # U = 1 from the data
    trainer.predict(module, datamodule)
    table = pd.read_hdf(writer.written[0])
    assert ("lightning_pose_arch", "single", "marker", "x") in table.columns
    assert np.isfinite(table.xs("single", level="individuals", axis=1).to_numpy()).all()
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    written = analyze(tmp_path / "model.ckpt", [project / "labeled-data" / "synthvideo"], out_dir=tmp_path,
                      device="cpu", progress=False)
    assert list(pd.read_hdf(written[0]).columns.get_level_values("individuals").unique()) == [
        "animal1", "animal2", "animal3", "animal4", "single"]


def test_channels_last_model_matches_the_default_layout() -> None:
    info = {"bodyparts": ["a", "b"], "image_size": [64, 64]}
    torch.manual_seed(0)
    default = PoseLitModule({"model": heatmap_model_cfg()}, dataset_info=info).eval()
    torch.manual_seed(0)
    channels_last = PoseLitModule({"model": heatmap_model_cfg(), "channels_last": True}, dataset_info=info).eval()
    conv = next(m for m in channels_last.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    frames = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    with torch.no_grad():
        expected, got = default.model.predict_frames(frames), channels_last.model.predict_frames(frames)
    torch.testing.assert_close(got["bodypart"]["keypoints"], expected["bodypart"]["keypoints"], atol=1e-3, rtol=1e-4)
    with pytest.raises(ConfigError, match="channels_last must be true or false"):
        PoseLitModule({"model": heatmap_model_cfg(), "channels_last": "yes"})


def test_compiled_training_matches_eager_and_checkpoints_stay_plain(synthetic_project: Path, tmp_path: Path) -> None:
    def fit(compile_cfg: dict | None) -> tuple[PoseLitModule, L.Trainer]:
        L.seed_everything(0, verbose=False)
        module = PoseLitModule(cfg(compile=compile_cfg) if compile_cfg else cfg())
        trainer = L.Trainer(max_steps=2, default_root_dir=tmp_path, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, limit_val_batches=0, deterministic=True)
        data = PoseDataModule(synthetic_project, image_size=(64, 96), num_workers=0, batch_size=4, val_fraction=0.0,
                              augmentation=AugmentationConfig(affine_p=0.0, hflip_p=0.0, brightness_contrast_p=0.0))
        trainer.fit(module, data)
        return module, trainer

    # aot_eager traces forward and backward as torch.compile does, without generating C++ (fast in CI)
    compiled, trainer = fit({"backend": "aot_eager", "dynamic": False})
    eager, _ = fit(None)
    assert compiled.model._compiled_call_impl is not None and eager.model._compiled_call_impl is None
    for (name, got), (_, expected) in zip(compiled.model.state_dict().items(), eager.model.state_dict().items()):
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4, msg=name)  # the same two optimizer steps
    trainer.save_checkpoint(tmp_path / "compiled.ckpt")
    reloaded = PoseLitModule.load_from_checkpoint(tmp_path / "compiled.ckpt")
    assert reloaded.model.state_dict().keys() == eager.model.state_dict().keys()
