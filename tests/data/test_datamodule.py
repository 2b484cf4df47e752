import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.data.synthetic_multi import example_multi_animal_project
from lightning_pose_arch.data.topdown import TopDownConfig, uncrop_keypoints
from lightning_pose_arch.data.transforms import AugmentationConfig
from lightning_pose_arch.registry import ConfigError


def make_datamodule(project: Path, **kwargs) -> PoseDataModule:
    options = dict(image_size=(64, 96), batch_size=4, num_workers=0, train_fraction=0.75, val_fraction=0.25)
    return PoseDataModule(project, **{**options, **kwargs})


def test_batches_follow_the_design_conventions(synthetic_project: Path) -> None:
    datamodule = make_datamodule(synthetic_project)
    datamodule.setup("fit")
    batch = next(iter(datamodule.val_dataloader()))
    assert batch["image"].shape == (3, 3, 64, 96) and batch["image"].dtype == torch.uint8
    assert batch["keypoints"].shape == (3, 1, 4, 3)
    assert torch.equal(batch["original_size"], torch.tensor([[128.0, 96.0]] * 3))
    assert len(batch["image_path"]) == 3
    assert datamodule.dataset_info()["bodyparts"] == ["snout", "leftear", "rightear", "tailbase"]


def test_eval_keypoints_are_the_labels_resized_about_pixel_centers(synthetic_project: Path) -> None:
    datamodule = make_datamodule(synthetic_project)
    datamodule.setup("test")
    sample = datamodule.datasets["all"][0]
    labels = torch.from_numpy(datamodule.project.keypoints[0])
    labeled = labels[..., 2] > 0
    expected = (labels[..., :2] + 0.5) * torch.tensor([96 / 128, 64 / 96]) - 0.5  # pixel centers at integers
    torch.testing.assert_close(sample["keypoints"][..., :2][labeled], expected[labeled])
    assert torch.equal(sample["keypoints"][..., 2], labels[..., 2])


def test_split_is_saved_and_reused(synthetic_project: Path, tmp_path: Path) -> None:
    split_file = tmp_path / "split.json"
    first = make_datamodule(synthetic_project, split_file=split_file, seed=1)
    first.setup("fit")
    assert json.loads(split_file.read_text()) == first.split
    assert [len(first.split[s]) for s in ("train", "val", "test")] == [9, 3, 4]
    second = make_datamodule(synthetic_project, split_file=split_file, seed=999)
    assert second.split == first.split


def test_split_saved_next_to_the_trainer_logs(synthetic_project: Path, tmp_path: Path) -> None:
    import lightning as L

    datamodule = make_datamodule(synthetic_project)
    datamodule.trainer = L.Trainer(default_root_dir=tmp_path, logger=False)
    datamodule.setup("fit")
    assert json.loads((tmp_path / "split.json").read_text()) == datamodule.split


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(image_size=(60, 96)), "multiples of 32"),
        (dict(image_size=(0, 96)), "image_size must be positive"),
        (dict(batch_size=0), "batch_size must be positive"),
        (dict(flip_pairs=[("leftear", "rightEar")]), "unknown bodyparts \\['rightEar'\\]"),
        (dict(num_workers=-1), "num_workers"),
    ],
)
def test_bad_arguments(synthetic_project: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_datamodule(synthetic_project, **kwargs)


def test_missing_image_is_named_before_training(synthetic_project: Path, tmp_path: Path) -> None:
    project = Path(shutil.copytree(synthetic_project, tmp_path / "copy"))
    (project / "labeled-data/synthvideo/img0003.png").unlink()
    with pytest.raises(FileNotFoundError, match="img0003.png"):
        make_datamodule(project).setup("fit")


def test_corrupt_image_is_named_in_setup(synthetic_project: Path, tmp_path: Path) -> None:
    project = Path(shutil.copytree(synthetic_project, tmp_path / "copy"))
    (project / "labeled-data/synthvideo/img0000.png").write_bytes(b"not a png")
    datamodule = make_datamodule(project)
    with pytest.raises(OSError, match="cannot be decoded as images: labeled-data/synthvideo/img0000.png"):
        datamodule.setup("test")
    datamodule._build_datasets()  # skipping the check: loading the frame still names it
    with pytest.raises(OSError, match="img0000.png cannot be decoded"):
        datamodule.datasets["all"][0]


def test_val_fraction_zero_trains_without_validation(synthetic_project: Path, tmp_path: Path) -> None:
    import lightning as L

    from helpers import heatmap_model_cfg
    from lightning_pose_arch.cli import default_checkpoint
    from lightning_pose_arch.lit.module import PoseLitModule

    datamodule = make_datamodule(synthetic_project, val_fraction=0.0)
    assert not datamodule.has_validation and datamodule.split["val"] == []
    checkpoint = default_checkpoint()
    trainer = L.Trainer(max_epochs=1, limit_train_batches=1, default_root_dir=tmp_path, logger=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[checkpoint])
    trainer.fit(PoseLitModule({"model": heatmap_model_cfg()}), datamodule)
    assert trainer.global_step == 1 and checkpoint.monitor is None
    assert Path(checkpoint.best_model_path).is_file() and Path(checkpoint.last_model_path).is_file()


def test_frames_of_different_sizes_are_resized_and_mapped_back(tmp_path: Path) -> None:
    """Decision: mixed frame sizes are fine (every frame is resized to image_size; predictions and metrics go
    back to each file's own pixels through its original_size)."""
    import pandas as pd

    from lightning_pose_arch.data.formats.dlc import read_labels, write_table
    from lightning_pose_arch.data.synthetic import make_synthetic_project

    small = make_synthetic_project(tmp_path / "small", num_frames=4, image_size=(96, 128), seed=1)
    large = make_synthetic_project(tmp_path / "large", num_frames=4, image_size=(192, 320), seed=2)
    folder = small / "labeled-data" / "synthvideo"
    table = read_labels(folder / "CollectedData_synth.csv")
    extra = read_labels(large / "labeled-data/synthvideo/CollectedData_synth.csv")
    extra.index = [p.replace("img", "big") for p in extra.index]
    for path in (large / "labeled-data/synthvideo").glob("img*.png"):
        shutil.copy(path, folder / path.name.replace("img", "big"))
    write_table(pd.concat([table, extra]), folder / "CollectedData_synth.csv")
    datamodule = make_datamodule(small, predict_split="all", batch_size=8)
    datamodule.setup("predict")
    batch = next(iter(datamodule.predict_dataloader()))
    assert batch["image"].shape == (8, 3, 64, 96)
    assert {tuple(size) for size in batch["original_size"].tolist()} == {(128.0, 96.0), (320.0, 192.0)}
    big = [i for i, path in enumerate(batch["image_path"]) if "big" in path]
    labels = torch.from_numpy(datamodule.project.keypoints[4:8])
    from lightning_pose_arch.models.coordinates import input_to_frame

    back = input_to_frame(batch["keypoints"][big], batch["original_size"][big], (64, 96))
    labeled = labels[..., 2] > 0
    torch.testing.assert_close(back[..., :2][labeled], labels[..., :2][labeled], atol=1e-3, rtol=0)


def test_openfield_split(openfield: Path) -> None:
    datamodule = PoseDataModule(openfield, num_workers=0)
    assert [len(datamodule.split[s]) for s in ("train", "val", "test")] == [99, 11, 6]
    assert datamodule.flip_pairs == [(1, 2)]


def test_crop_mode_gives_one_crop_per_labeled_individual(synthetic_project: Path) -> None:
    datamodule = make_datamodule(synthetic_project, image_size=(64, 64), crop=TopDownConfig(padding=1.5))
    datamodule.setup("fit")
    labeled_frames = int((datamodule.project.keypoints[..., 2] > 0).any(axis=(1, 2)).sum())
    assert len(datamodule.datasets["all"]) == labeled_frames  # one animal per frame
    batch = next(iter(datamodule.val_dataloader()))
    assert batch["image"].shape[1:] == (3, 64, 64)
    assert batch["keypoints"].shape[1:] == (1, 4, 3)
    assert batch["crop_matrix"].shape[1:] == (2, 3) and batch["bboxes"].shape[1:] == (1, 4)
    assert batch["individual"].tolist() == [0] * len(batch["individual"])
    assert datamodule.dataset_info()["top_down"] == {"padding": 1.5}
    rows = [datamodule.project.image_paths.index(path) for path in batch["image_path"]]
    labels = torch.from_numpy(datamodule.project.keypoints[rows]).double()
    labeled = labels[..., 2] > 0
    back = uncrop_keypoints(batch["keypoints"].double(), batch["crop_matrix"])
    torch.testing.assert_close(back[..., :2][labeled], labels[..., :2][labeled], atol=1e-3, rtol=0)
    assert (batch["keypoints"][..., :2][labeled] >= 0).all() and (batch["keypoints"][..., :2][labeled] < 64).all()


def test_crop_padding_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="padding must be >= 1"):
        TopDownConfig(padding=0.9)


@pytest.mark.parametrize("source", ["dlc", "coco"])
def test_multi_animal_batches_carry_every_animal_and_the_unique_keypoints(source: str) -> None:
    project = example_multi_animal_project()
    datamodule = make_datamodule(project if source == "dlc" else project / "annotations.json", image_size=(160, 192))
    datamodule.setup("fit")
    batch = next(iter(datamodule.val_dataloader()))
    info = datamodule.dataset_info()
    animals = 4 if source == "dlc" else datamodule.project.keypoints.shape[1]  # COCO: the most annotations per image
    assert batch["keypoints"].shape[1:] == (animals, 7, 3)
    if source == "dlc":
        assert info["individuals"] == ["animal1", "animal2", "animal3", "animal4"]
        assert info["unique_bodyparts"] == ["marker"] and batch["unique_keypoints"].shape[1:] == (1, 1, 3)
    else:
        assert "unique_keypoints" not in batch and info["unique_bodyparts"] == []
    assert datamodule.flip_pairs == [(1, 2)]
    rows = [datamodule.project.image_paths.index(path) for path in batch["image_path"]]
    np.testing.assert_allclose(batch["keypoints"][..., :2].numpy(), datamodule.project.keypoints[rows][..., :2],
                               atol=1e-4)  # eval pipeline at the native size: labels unchanged


def test_cached_images_give_the_same_batches_without_reading_files(synthetic_project: Path, tmp_path: Path) -> None:
    project = shutil.copytree(synthetic_project, tmp_path / "project")
    plain = PoseDataModule(project, image_size=(64, 96), num_workers=0, batch_size=4, predict_split="all")
    cached = PoseDataModule(project, image_size=(64, 96), num_workers=0, batch_size=4, predict_split="all",
                            cache_images=True)
    plain.setup()
    cached.setup()
    assert cached.read_image.nbytes == 16 * 96 * 128 * 3  # the size setup prints
    expected = next(iter(plain.predict_dataloader()))
    shutil.rmtree(project / "labeled-data")  # from here on, only the cache can provide the images
    batch = next(iter(cached.predict_dataloader()))
    assert torch.equal(batch["image"], expected["image"]) and torch.equal(batch["keypoints"], expected["keypoints"])
    assert next(iter(cached.train_dataloader()))["image"].shape == (4, 3, 64, 96)


def test_from_config_builds_the_sections_of_a_recipe(synthetic_project: Path) -> None:
    recipe_data = {"project_dir": "elsewhere", "image_size": [64, 96], "batch_size": 2, "num_workers": 0,
                   "augmentation": {"rotation": 5.0}, "native_resolution": {"pad_multiple": 64}}
    datamodule = PoseDataModule.from_config(recipe_data, project_dir=synthetic_project)
    assert datamodule.project.root == synthetic_project
    assert datamodule.augmentation.rotation == 5.0
    assert datamodule.native_resolution.pad_multiple == 64
    crop = PoseDataModule.from_config({"image_size": [64, 96], "crop": {"padding": 1.5}}, project_dir=synthetic_project)
    assert crop.crop == TopDownConfig(padding=1.5)


def test_from_config_names_an_unknown_section_key(synthetic_project: Path) -> None:
    with pytest.raises(ConfigError, match=r"data.augmentation has unknown key\(s\) \['rotate'\]; valid: .*'rotation'"):
        PoseDataModule.from_config({"augmentation": {"rotate": 5.0}}, project_dir=synthetic_project)


def test_predicting_the_training_split_sees_whole_unaugmented_frames(synthetic_project: Path) -> None:
    # training draws augmented samples of this split; predicting it must not (it did: both used one dataset)
    strong = AugmentationConfig(scale=0.5, rotation=90.0, affine_p=1.0, hflip_p=1.0)
    datamodule = make_datamodule(synthetic_project, predict_split="train", augmentation=strong, eval_batch_size=5)
    datamodule.setup("predict")
    batches = [next(iter(datamodule.predict_dataloader())) for _ in range(2)]
    assert batches[0]["image"].shape[0] == 5  # the evaluation batch size, not training's 4
    assert torch.equal(batches[0]["image"], batches[1]["image"])
    rows = [datamodule.project.image_paths.index(path) for path in batches[0]["image_path"]]
    labels = torch.from_numpy(datamodule.project.keypoints[rows])
    expected = (labels[..., :2] + 0.5) * torch.tensor([96 / 128, 64 / 96]) - 0.5  # resized only
    labeled = labels[..., 2] > 0
    torch.testing.assert_close(batches[0]["keypoints"][..., :2][labeled], expected[labeled])
    assert batches[0]["image_path"] == datamodule.split["train"][:5]
