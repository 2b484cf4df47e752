"""Native-resolution mode: training windows keep labels on their content; whole frames come back as file pixels."""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from helpers import heatmap_model_cfg
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.data.native import NativeResolutionConfig
from lightning_pose_arch.data.synthetic import make_synthetic_project
from lightning_pose_arch.data.topdown import TopDownConfig
from lightning_pose_arch.data.transforms import AugmentationConfig, KeypointTransform
from lightning_pose_arch.inference.export import export_model, parity_error
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.models.coordinates import compose, invert_affine
from lightning_pose_arch.models.preprocess import InputTransform
from lightning_pose_arch.registry import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from test_coordinates import BLOB_SIGMA, NO_AUG, check_labels_on_content, draw_blobs, labeled  # noqa: E402

FRAME_SIZE = (747, 832)  # (H, W)
WINDOW = (256, 192)  # (H, W)
BLOBS = np.array([[400.37, 300.71], [370.13, 280.29], [431.81, 322.52], [385.5, 331.05], [420.66, 262.9]])


def test_windows_are_whole_pixel_translations_near_keypoints() -> None:
    config = NativeResolutionConfig(keypoint_p=1.0, max_shift=0.25)
    rng = np.random.default_rng(0)
    keypoints = labeled(BLOBS)
    for _ in range(50):
        matrix = config.sample_window(keypoints, FRAME_SIZE, WINDOW, rng)
        assert torch.equal(matrix[:, :2], torch.eye(2, dtype=torch.float64))  # no rescaling, no resampling
        assert torch.equal(matrix[:, 2], matrix[:, 2].round())
        inside = BLOBS + matrix[:, 2].numpy()  # window pixels
        chosen_inside = ((inside >= 0) & (inside <= [WINDOW[1] - 1, WINDOW[0] - 1])).all(axis=1)
        assert chosen_inside.any(), "a keypoint-centered window (shift at most a quarter of it) holds its keypoint"
    anywhere = NativeResolutionConfig(keypoint_p=0.0)
    centers = [-anywhere.sample_window(keypoints, FRAME_SIZE, WINDOW, rng)[:, 2].numpy() + [95.5, 127.5]
               for _ in range(200)]
    assert np.min(centers, axis=0).tolist() > [-1, -1] and np.max(centers, axis=0).tolist() < [832, 747]
    assert np.ptp(centers, axis=0).tolist() > [600, 500]  # spread over the whole frame


@pytest.mark.parametrize("augmentation", [AugmentationConfig(**NO_AUG), AugmentationConfig(hflip_p=1.0)],
                         ids=["window", "window+zoom+rotation+flip"])
def test_training_windows_keep_labels_on_their_blobs(augmentation: AugmentationConfig) -> None:
    frame = draw_blobs(FRAME_SIZE, BLOBS, BLOB_SIGMA)  # native scale: blobs as sharp as in the input
    transform = KeypointTransform(WINDOW, augmentation, native_resolution=NativeResolutionConfig(max_shift=0.1,
                                                                                                 keypoint_p=1.0))
    for seed in range(3):
        transform.reseed(seed)
        window = transform.start_matrix(FRAME_SIZE, labeled(BLOBS))
        matrix, _ = transform.sample_matrix(window)
        transform.reseed(seed)  # apply draws the same window and augmentation
        image, moved = transform(frame, labeled(BLOBS))
        assert image.shape == (3, *WINDOW)
        check_labels_on_content(image, moved, invert_affine(compose(matrix)), BLOBS)


def test_evaluation_keeps_whole_frames_padded_and_labels_in_file_pixels() -> None:
    frame = draw_blobs(FRAME_SIZE, BLOBS, BLOB_SIGMA)
    config = NativeResolutionConfig()
    padded = config.padded_size(*FRAME_SIZE)
    assert padded == (768, 832)
    image, moved = KeypointTransform(padded, native_resolution=config)(frame, labeled(BLOBS))
    assert torch.equal(image[:, : FRAME_SIZE[0]], torch.from_numpy(frame).permute(2, 0, 1))  # pixels untouched
    assert (image[:, FRAME_SIZE[0]:] == 0).all()
    torch.testing.assert_close(moved, torch.from_numpy(labeled(BLOBS)))


def test_input_step_pads_to_the_stride_and_maps_back_unchanged() -> None:
    step = InputTransform(WINDOW, mean=[0.0] * 3, std=[1 / 255] * 3, pad_multiple=32)  # identity normalization
    frames = torch.randint(0, 256, (2, 481, 641, 3), dtype=torch.uint8)
    inputs = step(frames)
    assert inputs.shape == (2, 3, 512, 672)
    torch.testing.assert_close(inputs[:, :, :481, :641], frames.permute(0, 3, 1, 2).float())
    assert (inputs[:, :, 481:] == 0).all() and (inputs[:, :, :, 641:] == 0).all()
    keypoints = torch.rand(2, 1, 4, 3) * 400
    assert torch.equal(step.to_frame(keypoints, torch.tensor([641.0, 481.0])), keypoints)


@pytest.fixture(scope="module")
def odd_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Frames of 90×121 pixels: padded to 96×128 for evaluation."""
    return make_synthetic_project(tmp_path_factory.mktemp("odd"), num_frames=12, image_size=(90, 121))


def test_datamodule_trains_on_windows_and_evaluates_whole_frames(odd_project: Path) -> None:
    datamodule = PoseDataModule(odd_project, image_size=(64, 64), batch_size=4, num_workers=0,
                                native_resolution=NativeResolutionConfig(), predict_split="all")
    datamodule.setup()
    assert datamodule.dataset_info()["native_resolution"] == {"pad_multiple": 32}
    assert next(iter(datamodule.train_dataloader()))["image"].shape == (4, 3, 64, 64)
    module = PoseLitModule({"model": heatmap_model_cfg()}, dataset_info=datamodule.dataset_info())
    batch = next(iter(datamodule.predict_dataloader()))
    assert batch["image"].shape[-2:] == (96, 128)
    model = module.model
    # labels → maps on the padded whole frame → decoded → file pixels: the codec's round trip, nothing else
    outputs = model(model.input_transform(batch["image"]))
    targets = model.get_targets(batch, outputs)["bodypart"]
    decoded = model.heads["bodypart"].predictor({"heatmap": targets["heatmap"]["target"],
                                                  "locref": targets["locref"]["target"]}, stride=4.0)["keypoints"]
    back = module._to_original_pixels(decoded, batch)
    rows = [datamodule.project.image_paths.index(path) for path in batch["image_path"]]
    labels = torch.from_numpy(datamodule.project.keypoints[rows])
    visible = labels[..., 2] > 0
    torch.testing.assert_close(back[..., :2][visible], labels[..., :2][visible], atol=0.05, rtol=0)


def test_native_resolution_model_predicts_whole_frames_in_file_pixels(odd_project: Path, tmp_path: Path) -> None:
    datamodule = PoseDataModule(odd_project, image_size=(64, 64), batch_size=4, num_workers=0,
                                native_resolution=NativeResolutionConfig())
    trainer = L.Trainer(max_steps=2, default_root_dir=tmp_path, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False)
    module = PoseLitModule({"model": heatmap_model_cfg()})
    trainer.fit(module, datamodule)
    assert module.model.input_transform.pad_multiple == 32
    frames = torch.randint(0, 256, (3, 90, 121, 3), dtype=torch.uint8)
    predictions = module.model.predict_frames(frames)
    keypoints = next(iter(predictions.values()))["keypoints"]
    assert keypoints.shape == (3, 1, 4, 3)
    assert (keypoints[..., 0] >= -0.5).all() and (keypoints[..., 0] <= 128).all()  # padded frame's pixels


def test_native_resolution_refuses_what_it_cannot_do(odd_project: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be combined with crop"):
        PoseDataModule(odd_project, native_resolution=NativeResolutionConfig(), crop=TopDownConfig())
    rtmcc = {"backbone": {"type": "CSPNeXt", "variant": "s"}, "heads": {"bodypart": {
        "type": "RTMCCHead", "predictor": {"type": "SimCCPredictor"}, "target_generator": {"type": "SimCCGenerator"},
        "criterion": {"type": "KLDiscreteLoss"}}}}
    info = {"bodyparts": ["a", "b"], "image_size": [64, 64], "native_resolution": {"pad_multiple": 32}}
    with pytest.raises(ConfigError, match="RTMCCHead is sized for one input size"):
        PoseLitModule({"model": rtmcc}, dataset_info=info)
    with pytest.raises(ValueError, match="keypoint_p in"):
        NativeResolutionConfig(keypoint_p=1.5)


@pytest.mark.parametrize("export_format", ["onnx", "torchscript"])
def test_exported_native_model_pads_frames_of_any_size(export_format: str, tmp_path: Path) -> None:
    info = {"bodyparts": ["a", "b"], "individuals": ["single"], "image_size": [64, 64],
            "native_resolution": {"pad_multiple": 32}}
    module = PoseLitModule({"model": heatmap_model_cfg()}, dataset_info=info).eval()
    path = export_model(module, tmp_path / f"model.{export_format}", export_format=export_format)
    assert "padded" in (tmp_path / f"model.{export_format}.json").read_text()
    for size in [(90, 121), (64, 64), (100, 37)]:  # the padding traced, not fixed at the example's size
        frames = np.random.default_rng(0).integers(0, 256, (2, *size, 3), dtype=np.uint8)
        assert parity_error(module, path, frames) < 1e-4
