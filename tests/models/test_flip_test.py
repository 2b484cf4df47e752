"""Flip test-time augmentation: mirror predictions come back to the frame with left/right swapped, then average."""

from __future__ import annotations

import pytest
import torch

from helpers import heatmap_model_cfg
from lightning_pose_arch.models.flip_test import average_with_mirror, unflip_keypoints
from lightning_pose_arch.models.pose_model import PoseModel

NORMALIZATION = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def test_unflip_mirrors_x_about_pixel_centers_and_swaps_pairs() -> None:
    mirrored = torch.tensor([[[[10.0, 5.0, 0.9], [30.0, 6.0, 0.8], [2.0, 7.0, 0.7]]]])  # [1, 1, 3, 3]
    back = unflip_keypoints(mirrored, width=64, flip_pairs=[(0, 1)])
    assert torch.equal(back[0, 0], torch.tensor([[33.0, 6.0, 0.8], [53.0, 5.0, 0.9], [61.0, 7.0, 0.7]]))


def test_average_with_mirror_means_coordinates_and_scores() -> None:
    plain = torch.tensor([[[[33.5, 6.0, 0.6]]]])
    mirrored = torch.tensor([[[[30.0, 6.5, 1.0]]]])  # 63 - 30 = 33 on the frame
    torch.testing.assert_close(average_with_mirror(plain, mirrored, 64, [])[0, 0, 0], torch.tensor([33.25, 6.25, 0.8]))
    with pytest.raises(ValueError, match="single-individual"):
        average_with_mirror(plain.expand(1, 2, 1, 3), mirrored.expand(1, 2, 1, 3), 64, [])


def test_flip_test_of_a_mirror_symmetric_input_equals_the_plain_prediction() -> None:
    """On a left/right-symmetric input with no pairs, the mirror's prediction is the plain one mirrored back."""
    torch.manual_seed(0)
    model = PoseModel.from_config(heatmap_model_cfg(), num_keypoints=2, image_size=(64, 64),
                                  normalization=NORMALIZATION).eval()
    half = torch.randint(0, 256, (1, 64, 32, 3), dtype=torch.uint8)
    frames = torch.cat([half, half.flip(2)], dim=2)
    with torch.no_grad():
        images = model.input_transform(frames)
        plain = model.predict_inputs(images)["bodypart"]["keypoints"]
        mirror = model.predict(model(images.flip(-1)))["bodypart"]["keypoints"]
        flipped = model.predict_inputs(images, flip_pairs={"bodypart": []})["bodypart"]["keypoints"]
    torch.testing.assert_close(flipped, (plain + unflip_keypoints(mirror, 64, [])) / 2)
    torch.testing.assert_close(mirror, plain, atol=1e-4, rtol=0)  # the input is its own mirror
