from pathlib import Path

import lightning as L
import pytest
import torch

from helpers import heatmap_model_cfg
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.data.native import NativeResolutionConfig
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.lit.resolution import parse_resolution_schedule, resize_labels, scale_at, scaled_size
from lightning_pose_arch.models.preprocess import InputTransform
from lightning_pose_arch.registry import ConfigError


def test_schedule_is_parsed_and_looked_up_by_epoch() -> None:
    schedule = parse_resolution_schedule({30: 0.75, 0: 0.5, 40: 1})
    assert schedule == {0: 0.5, 30: 0.75, 40: 1.0}
    assert [scale_at(schedule, epoch) for epoch in (0, 29, 30, 39, 40, 99)] == [0.5, 0.5, 0.75, 0.75, 1.0, 1.0]
    assert parse_resolution_schedule(None) is None
    assert parse_resolution_schedule({"0": 0.5, "7": 1.0}) == {0: 0.5, 7: 1.0}  # JSON and command-line keys


@pytest.mark.parametrize(("bad", "message"), [
    ({5: 0.5, 10: 1.0}, "must list epoch 0"),
    ("fast", "must map start epochs"),
    ({0: 0.5}, "must end at 1.0"),
    ({0: 0.5, 10: 0.75}, "must end at 1.0"),
    ({0: 1.5, 10: 1.0}, r"entry 0: 1.5 must be an epoch >= 0 and a fraction in \(0, 1\]"),
    ({0: 0, 10: 1.0}, "entry 0: 0 must be"),
    ({0: 0.5, -1: 1.0}, "entry -1"),
    ({}, "must list epoch 0"),
    ({0: 0.5, "ten": 1.0}, "entry .ten.: 1.0 must be an epoch"),
])
def test_bad_schedule_is_refused_at_construction(bad: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PoseLitModule({"model": heatmap_model_cfg(), "resolution_schedule": bad})


def test_scaled_sizes_tile_into_stride_32_cells() -> None:
    assert scaled_size((256, 320), 0.5) == (128, 160)
    assert scaled_size((256, 320), 0.75) == (192, 256)  # 240 → 256: the nearest multiple of 32
    assert scaled_size((64, 96), 0.1) == (32, 32)
    assert scaled_size((256, 320), 1.0) == (256, 320)


def test_labels_follow_the_content_of_the_resized_input() -> None:
    """A blob centered at a labeled point, halved by the model's input step, is centered at the moved label."""
    height, width, center = 64, 96, torch.tensor([37.3, 21.6])  # (x, y) input pixels
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                            indexing="ij")
    blob = torch.exp(-((xs - center[0]) ** 2 + (ys - center[1]) ** 2) / (2 * 3.0**2))
    images = blob.expand(1, 3, height, width).float() * 255
    resize = InputTransform((32, 48), mean=[0.0] * 3, std=[1 / 255] * 3)  # identity normalization
    small = resize(images)[0, 0].double()
    ys_small, xs_small = torch.meshgrid(torch.arange(32.0, dtype=torch.float64),
                                        torch.arange(48.0, dtype=torch.float64), indexing="ij")
    content = torch.stack([(small * xs_small).sum(), (small * ys_small).sum()]) / small.sum()
    batch = {"keypoints": torch.tensor([[[[*center.tolist(), 2.0]]]]), "image": images}
    moved = resize_labels(batch, (height, width), (32, 48))
    torch.testing.assert_close(moved["keypoints"][0, 0, 0, :2].double(), content, atol=1e-3, rtol=0)
    assert moved["keypoints"][0, 0, 0, 2] == 2.0 and moved["image"] is images


class InputSizes(L.Callback):
    """The model input size of every training and validation batch."""

    def __init__(self) -> None:
        self.train: list[tuple[int, int]] = []
        self.val: list[tuple[int, int]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.train.append(pl_module.model.input_transform.input_size)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        if not trainer.sanity_checking:
            self.val.append(pl_module.model.input_transform.input_size)


def test_fit_trains_and_validates_at_each_epochs_size_and_ends_at_full_size(synthetic_project: Path,
                                                                            tmp_path: Path) -> None:
    datamodule = PoseDataModule(synthetic_project, image_size=(64, 128), num_workers=0, batch_size=4,
                                val_fraction=0.25)
    module = PoseLitModule({"model": heatmap_model_cfg(), "resolution_schedule": {0: 0.5, 1: 1.0}})
    sizes = InputSizes()
    trainer = L.Trainer(max_epochs=2, default_root_dir=tmp_path, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, callbacks=[sizes])
    trainer.fit(module, datamodule)
    steps = len(datamodule.train_dataloader())
    assert sizes.train == [(32, 64)] * steps + [(64, 128)] * steps
    assert sizes.val[0] == (32, 64) and sizes.val[-1] == (64, 128)
    assert module.model.input_transform.input_size == (64, 128)  # predict, export and analyze at full size
    assert torch.isfinite(trainer.callback_metrics["val/mean_pixel_error"])
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    assert PoseLitModule.load_from_checkpoint(tmp_path / "last.ckpt").model.input_transform.input_size == (64, 128)


def test_a_run_that_stops_before_full_size_is_warned_about_and_its_checkpoint_runs_at_the_trained_size(
        synthetic_project: Path, tmp_path: Path) -> None:
    datamodule = PoseDataModule(synthetic_project, image_size=(64, 128), num_workers=0, batch_size=4,
                                val_fraction=0.25)
    module = PoseLitModule({"model": heatmap_model_cfg(), "resolution_schedule": {0: 0.5, 1: 0.75, 3: 1.0}})
    trainer = L.Trainer(max_epochs=2, default_root_dir=tmp_path, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False)
    with pytest.warns(UserWarning, match=r"full data.image_size at epoch 3, but trainer.max_epochs is 2: .* \[64, 96\]"):
        trainer.fit(module, datamodule)
    assert module.model.input_transform.input_size == (64, 96)  # the size its last epoch trained at
    trainer.save_checkpoint(tmp_path / "short.ckpt")
    loaded = PoseLitModule.load_from_checkpoint(tmp_path / "short.ckpt").eval()
    assert loaded.model.input_transform.input_size == (64, 96)
    batch = next(iter(datamodule.val_dataloader()))
    module.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.predict_step(batch, 0)["keypoints"], module.predict_step(batch, 0)["keypoints"])


def test_labels_at_any_scale_map_back_to_the_files_pixels(synthetic_project: Path) -> None:
    """Metrics compare in file pixels: labels moved to a scheduled size come back to the same file pixels."""
    datamodule = PoseDataModule(synthetic_project, image_size=(64, 128), num_workers=0, batch_size=4)
    module = PoseLitModule({"model": heatmap_model_cfg()}, dataset_info=datamodule.dataset_info())
    batch = next(iter(datamodule.val_dataloader() if datamodule.split["val"] else datamodule.test_dataloader()))
    in_file = module._to_original_pixels(batch["keypoints"], batch)
    module._set_input_size((32, 64))
    halved = resize_labels(batch, (64, 128), (32, 64))
    torch.testing.assert_close(module._to_original_pixels(halved["keypoints"], batch), in_file, atol=1e-4, rtol=0)


def test_schedule_is_refused_for_data_that_is_not_resized(synthetic_project: Path, tmp_path: Path) -> None:
    datamodule = PoseDataModule(synthetic_project, image_size=(64, 64), num_workers=0, batch_size=4,
                                native_resolution=NativeResolutionConfig())
    module = PoseLitModule({"model": heatmap_model_cfg(), "resolution_schedule": {0: 0.5, 1: 1.0}})
    trainer = L.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, enable_checkpointing=False)
    with pytest.raises(ConfigError, match=r"resolution_schedule needs data that is resized.*native_resolution"):
        trainer.fit(module, datamodule)
