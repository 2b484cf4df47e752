"""The model's input step: raw frames of any size and layout in, normalized input out, keypoints back to frame pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import heatmap_model_cfg
from lightning_pose_arch.models.pose_model import PoseModel
from lightning_pose_arch.models.preprocess import InputTransform, channels_first

NORMALIZATION = {"mean": [0.5, 0.25, 0.0], "std": [0.5, 0.25, 1.0]}


def test_normalizes_uint8_frames_with_the_stored_mean_and_std() -> None:
    step = InputTransform((4, 6), NORMALIZATION["mean"], NORMALIZATION["std"])
    frames = torch.full((2, 4, 6, 3), 255, dtype=torch.uint8)  # [B, H, W, 3] as decoded
    images = step(frames)
    assert images.shape == (2, 3, 4, 6) and images.dtype == torch.float32
    torch.testing.assert_close(images[:, :, 0, 0], torch.tensor([[1.0, 3.0, 1.0]] * 2))
    assert torch.equal(step(frames.permute(0, 3, 1, 2)), images)  # [B, 3, H, W] too


def test_resizes_like_cv2_and_maps_keypoints_back_exactly() -> None:
    import cv2

    frame = np.random.default_rng(0).integers(0, 256, size=(97, 131, 3), dtype=np.uint8)
    step = InputTransform((32, 48), [0.0] * 3, [1 / 255] * 3)  # identity normalization
    resized = step(torch.from_numpy(frame)[None])[0].permute(1, 2, 0).numpy()
    expected = cv2.resize(frame.astype(np.float32), (48, 32), interpolation=cv2.INTER_LINEAR)
    assert np.abs(resized - expected).max() < 0.05  # the same sampling points (pixel centers at integers)
    keypoints = torch.tensor([[[[0.0, 0.0, 1.0], [47.0, 31.0, 0.5]]]])
    frame_size = torch.tensor([131.0, 97.0])
    back = step.to_frame(keypoints, frame_size)
    # x_frame = (x + 0.5)·131/48 − 0.5, y_frame = (y + 0.5)·97/32 − 0.5; the score is kept
    torch.testing.assert_close(back[0, 0], torch.tensor([[0.5 * 131 / 48 - 0.5, 0.5 * 97 / 32 - 0.5, 1.0],
                                                         [47.5 * 131 / 48 - 0.5, 31.5 * 97 / 32 - 0.5, 0.5]]))


def test_refuses_frames_without_three_channels() -> None:
    with pytest.raises(ValueError, match=r"\[B, H, W, 3\] or \[B, 3, H, W\], got shape \[2, 8, 8, 4\]"):
        channels_first(torch.zeros(2, 8, 8, 4))


def test_predict_frames_returns_frame_pixels_of_the_input_pixel_prediction() -> None:
    torch.manual_seed(0)
    model = PoseModel.from_config(heatmap_model_cfg(), num_keypoints=3, image_size=(64, 96),
                                  normalization=NORMALIZATION).eval()
    frames = torch.randint(0, 256, (2, 150, 201, 3), dtype=torch.uint8)
    with torch.no_grad():
        in_frame = model.predict_frames(frames)["bodypart"]["keypoints"]
        in_input = model.predict(model(model.input_transform(frames)))["bodypart"]["keypoints"]
    scale = torch.tensor([201 / 96, 150 / 64])
    torch.testing.assert_close(in_frame[..., :2], (in_input[..., :2] + 0.5) * scale - 0.5)
    torch.testing.assert_close(in_frame[..., 2], in_input[..., 2])


def test_a_model_without_an_input_step_says_how_to_get_one() -> None:
    model = PoseModel.from_config(heatmap_model_cfg(), num_keypoints=3, image_size=(64, 96))
    with pytest.raises(Exception, match="image_size and normalization"):
        model.predict_frames(torch.zeros(1, 64, 96, 3, dtype=torch.uint8))
