"""Semi-supervised training: labeled batches + unlabeled clips through CombinedLoader, losses logged, CPU fit."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from helpers import heatmap_model_cfg, write_video
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.data.video_clips import UnlabeledConfig
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.lit.semisupervised import ConsistencyTerms, labeled_train_poses
from lightning_pose_arch.registry import ConfigError

CONSISTENCY = {
    "losses": {
        "temporal": {"type": "TemporalLoss", "epsilon": 2.0, "warmup_epochs": 1},
        "pca": {"type": "PosePCALoss", "components_to_keep": 0.9, "weight": 0.5},
    }
}


@pytest.fixture(scope="module")
def project_video(synthetic_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic project's frames, each shown twice, as a 32-frame video (same size as the labels)."""
    frames = [np.asarray(Image.open(path).convert("RGB")) for path in sorted(synthetic_project.rglob("*.png"))]
    return write_video(tmp_path_factory.mktemp("unlabeled") / "session.mp4", np.repeat(np.stack(frames), 2, axis=0))


def datamodule(project: Path, video: Path | None, **unlabeled) -> PoseDataModule:
    clips = None if video is None else UnlabeledConfig(videos=[str(video)], clip_length=3, batch_size=2, **unlabeled)
    return PoseDataModule(project, image_size=(64, 96), num_workers=0, batch_size=4, val_fraction=0.0,
                          unlabeled=clips)


def test_training_batches_pair_labeled_frames_with_clips(synthetic_project: Path, project_video: Path) -> None:
    data = datamodule(synthetic_project, project_video)
    data.setup("fit")
    batches = list(data.train_dataloader())
    assert len(batches) == len(data.train_dataloader().iterables["labeled"])  # the labeled loader sets the epoch
    batch = batches[0][0] if isinstance(batches[0], tuple) else batches[0]
    assert batch["labeled"]["image"].shape == (4, 3, 64, 96)
    assert batch["unlabeled"]["frames"].shape == (2, 3, 3, 64, 96) and batch["unlabeled"]["matrix"].shape == (2, 2, 3)


def test_labeled_train_poses_are_file_pixels_with_nan_for_missing(synthetic_project: Path) -> None:
    data = datamodule(synthetic_project, None)
    poses = labeled_train_poses(data)
    assert poses.shape == (len(data.split["train"]), 4, 2)
    row = data.project.image_paths.index(data.split["train"][0])
    visible = data.project.keypoints[row, 0, :, 2] > 0
    np.testing.assert_array_equal(poses[0][visible], data.project.keypoints[row, 0, visible, :2])
    assert np.isnan(poses).any() and not np.isnan(poses[0][visible]).any()


class ModelRan(Exception):
    pass


class ModelThatMustNotRun:
    """Stands in for a PoseModel: its first use by ConsistencyTerms (the input transform) raises ModelRan."""

    @property
    def input_transform(self) -> None:
        raise ModelRan


def test_clips_are_not_run_through_the_model_before_the_losses_start() -> None:
    terms = ConsistencyTerms.from_config({"losses": {"temporal": {"type": "TemporalLoss", "start_epoch": 3},
                                                     "pca": {"type": "PosePCALoss", "start_epoch": 5}}})
    clips = {"frames": torch.zeros(2, 3, 3, 64, 96, dtype=torch.uint8), "matrix": torch.eye(2, 3).expand(2, 2, 3)}
    losses = terms(ModelThatMustNotRun(), clips, epoch=2)
    assert set(losses) == {"total"} and losses["total"].item() == 0.0 and losses["total"].dtype == torch.float32
    with pytest.raises(ModelRan):  # from epoch 3 the temporal loss counts: the clips go to the model
        terms(ModelThatMustNotRun(), clips, epoch=3)


@pytest.fixture
def one_thread():
    """Tiny models run faster on one thread, and far faster on a loaded machine (no intra-op spinning)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_tiny_semisupervised_fit_logs_each_loss_and_checkpoints_cleanly(synthetic_project: Path, project_video: Path,
                                                                         tmp_path: Path, one_thread: None) -> None:
    torch.manual_seed(0)
    module = PoseLitModule({"model": heatmap_model_cfg(num_deconv_layers=1, deconv_channels=16),
                            "consistency": CONSISTENCY})
    trainer = L.Trainer(max_epochs=2, default_root_dir=tmp_path, enable_progress_bar=False, log_every_n_steps=1,
                        enable_model_summary=False)
    trainer.fit(module, datamodule(synthetic_project, project_video))
    logged = trainer.callback_metrics
    for name in ("temporal", "pca", "total"):
        assert torch.isfinite(logged[f"train/consistency/{name}_epoch"])
    assert module.consistency.losses["pca"].components.shape[1] == 8
    assert module.consistency.losses["temporal"].weight_at(trainer.current_epoch - 1) == 1.0
    checkpoint = tmp_path / "semi.ckpt"
    trainer.save_checkpoint(checkpoint)
    assert not any("consistency" in key for key in torch.load(checkpoint, weights_only=False)["state_dict"])
    PoseLitModule.load_from_checkpoint(checkpoint)  # strict: the refit-at-setup PCA is not part of the weights


def test_consistency_config_errors_come_before_training(synthetic_project: Path, project_video: Path,
                                                         tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CONSISTENCY_LOSSES has no type 'TemporalLos'; did you mean 'TemporalLoss'"):
        PoseLitModule({"model": heatmap_model_cfg(), "consistency": {"losses": {"t": {"type": "TemporalLos"}}}})
    with pytest.raises(ConfigError, match="cfg.consistency has no argument 'los'"):
        PoseLitModule({"model": heatmap_model_cfg(), "consistency": {"los": {}}})
    module = PoseLitModule({"model": heatmap_model_cfg(), "consistency": CONSISTENCY})
    trainer = L.Trainer(max_steps=1, default_root_dir=tmp_path, logger=False, enable_checkpointing=False)
    with pytest.raises(ConfigError, match="needs unlabeled video"):
        trainer.fit(module, datamodule(synthetic_project, None))
    with pytest.raises(ConfigError, match="unlabeled videos but cfg has no 'consistency'"):
        trainer.fit(PoseLitModule({"model": heatmap_model_cfg()}), datamodule(synthetic_project, project_video))
