"""Labels stay on their content: blobs drawn at sub-pixel positions, moved by every train/eval transform and back.

Each frame holds Gaussian blobs at known sub-pixel positions. After a transform
the blob's intensity centroid in the transformed image must sit where the
transform put its label (within 0.05 input pixels), and mapping that centroid
back to the file must give the drawn position (within 0.05 input pixels,
i.e. 0.05 × the file/input scale in file pixels).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lightning_pose_arch.data.topdown import crop_transform, uncrop_keypoints
from lightning_pose_arch.data.transforms import AugmentationConfig, KeypointTransform
from lightning_pose_arch.models.coordinates import (
    compose,
    frame_to_input,
    hflip_matrix,
    input_to_frame,
    invert_affine,
    resize_matrix,
    transform_keypoints,
)
from lightning_pose_arch.models.preprocess import InputTransform

TOLERANCE = 0.05  # input pixels
INPUT_SIZE = (256, 320)
FRAME_SIZES = [(747, 832), (481, 641), (96, 128)]  # (H, W), odd sizes included; the last one is upsampled
BLOB_SIGMA = 2.5  # input pixels: sharp, yet sampled finely enough for a centroid
NO_AUG = dict(scale=0.0, rotation=0.0, translate=0.0, affine_p=0.0, hflip_p=0.0, brightness_contrast_p=0.0)
AUGMENTATIONS = {
    "resize": None,
    "flip": AugmentationConfig(**{**NO_AUG, "hflip_p": 1.0}),
    "affine": AugmentationConfig(**{**NO_AUG, "scale": 0.2, "rotation": 25.0, "translate": 0.05, "affine_p": 1.0}),
    "affine+flip": AugmentationConfig(**{**NO_AUG, "scale": 0.2, "rotation": 25.0, "translate": 0.05,
                                         "affine_p": 1.0, "hflip_p": 1.0}),
}


def blob_positions(frame_size: tuple[int, int]) -> np.ndarray:
    """``[5, 2]`` sub-pixel (x, y) file positions spread over the central part of the frame."""
    height, width = frame_size
    fractions = np.array([[0.5, 0.5], [0.35, 0.4], [0.62, 0.38], [0.4, 0.63], [0.6, 0.6]])
    return fractions * [width - 1, height - 1] + [[0.37, 0.71], [0.13, 0.29], [0.81, 0.52], [0.5, 0.05], [0.66, 0.9]]


def draw_blobs(frame_size: tuple[int, int], positions: np.ndarray, sigma: float) -> np.ndarray:
    """``[H, W, 3]`` uint8: Gaussian blobs of ``sigma`` file pixels at ``positions [P, 2]`` (x, y)."""
    ys, xs = np.mgrid[: frame_size[0], : frame_size[1]]
    image = np.zeros(frame_size, np.float64)
    for x, y in positions:
        image = np.maximum(image, np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)))
    return np.repeat(np.round(image * 255).astype(np.uint8)[..., None], 3, axis=-1)


def centroids(image: np.ndarray, guesses: np.ndarray, radius: float) -> np.ndarray:
    """``[P, 2]`` intensity centroids of ``image [H, W]`` within ``radius`` of each guess (x, y)."""
    ys, xs = np.mgrid[: image.shape[0], : image.shape[1]]
    found = []
    for x, y in guesses:
        weights = image * (((xs - x) ** 2 + (ys - y) ** 2) <= radius**2)
        found.append([(weights * xs).sum() / weights.sum(), (weights * ys).sum() / weights.sum()])
    return np.array(found)


def labeled(positions: np.ndarray) -> np.ndarray:
    """``[1, P, 3]`` keypoints (x, y, visibility 2)."""
    return np.concatenate([positions, np.full((len(positions), 1), 2.0)], axis=1)[None].astype(np.float32)


def check_labels_on_content(image: torch.Tensor, moved: torch.Tensor, back_matrix: torch.Tensor,
                            drawn: np.ndarray) -> None:
    """Centroids in ``image [3, H, W]`` match ``moved [1, P, 3]``; mapped by ``back_matrix`` they match ``drawn``."""
    visible = moved[0, :, 2].numpy() > 0
    assert visible.all(), "every blob was placed where all transforms keep it in the image"
    xy = moved[0, :, :2].numpy().astype(np.float64)
    found = centroids(image[0].numpy().astype(np.float64), xy, radius=4 * BLOB_SIGMA)
    np.testing.assert_allclose(found, xy, atol=TOLERANCE, rtol=0)
    back = transform_keypoints(torch.from_numpy(np.concatenate([found, np.ones((len(found), 1))], 1)), back_matrix)
    scale = float(torch.linalg.matrix_norm(back_matrix[:, :2], ord=2))  # file pixels per input pixel (at most)
    np.testing.assert_allclose(back[:, :2].numpy(), drawn, atol=TOLERANCE * scale, rtol=0)


@pytest.mark.parametrize("frame_size", FRAME_SIZES, ids=lambda size: f"{size[1]}x{size[0]}")
@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_training_and_eval_transforms_keep_labels_on_their_blobs(frame_size: tuple[int, int], name: str) -> None:
    positions = blob_positions(frame_size)
    scale = frame_size[1] / INPUT_SIZE[1]
    frame = draw_blobs(frame_size, positions, BLOB_SIGMA * scale)
    transform = KeypointTransform(INPUT_SIZE, AUGMENTATIONS[name])
    for seed in range(3 if AUGMENTATIONS[name] else 1):
        transform.reseed(seed)
        matrix, flipped = transform.sample_matrix(resize_matrix(frame_size, INPUT_SIZE))
        transform.reseed(seed)  # apply draws the same matrix
        image, moved = transform(frame, labeled(positions))
        assert flipped == (name.endswith("flip"))
        if flipped:  # the left/right order is not swapped here (no flip pairs), so the rows keep their blob
            assert moved[0, 0, 0] == pytest.approx(float(transform_keypoints(torch.tensor(labeled(positions)[0].astype(
                np.float64)), matrix)[0, 0]), abs=1e-4)
        check_labels_on_content(image, moved, invert_affine(matrix), positions)


@pytest.mark.parametrize("augmentation", [None, AUGMENTATIONS["affine+flip"]], ids=["crop", "crop+affine+flip"])
def test_top_down_crops_keep_labels_on_their_blobs(augmentation: AugmentationConfig | None) -> None:
    frame_size = (747, 832)
    positions = blob_positions(frame_size)
    box = torch.tensor([300.3, 250.7, 260.0, 240.0], dtype=torch.float64)  # around the blobs
    crop = crop_transform(box, INPUT_SIZE)
    frame = draw_blobs(frame_size, positions, BLOB_SIGMA / float(crop[0, 0]))
    transform = KeypointTransform(INPUT_SIZE, augmentation)
    transform.reseed(0)
    matrix, _ = transform.sample_matrix(crop)
    transform.reseed(0)
    image, moved, _ = transform.apply(frame, labeled(positions), np.zeros((1, 0, 3), np.float32), source_matrix=crop)
    check_labels_on_content(image, moved, invert_affine(matrix), positions)
    if augmentation is None:  # evaluation maps predictions back with uncrop_keypoints
        back = uncrop_keypoints(moved.double(), crop)[0, :, :2].numpy()
        np.testing.assert_allclose(back, positions, atol=1e-3, rtol=0)


@pytest.mark.parametrize("frame_size", FRAME_SIZES, ids=lambda size: f"{size[1]}x{size[0]}")
def test_the_model_input_step_keeps_labels_on_their_blobs(frame_size: tuple[int, int]) -> None:
    """``InputTransform`` (``lpa analyze``, export) resizes like training, and ``to_frame`` inverts it exactly."""
    positions = blob_positions(frame_size)
    frame = draw_blobs(frame_size, positions, BLOB_SIGMA * frame_size[1] / INPUT_SIZE[1])
    step = InputTransform(INPUT_SIZE, mean=[0.0] * 3, std=[1 / 255] * 3)  # identity normalization: 0–255 out
    image = step(torch.from_numpy(frame)[None])[0]
    frame_wh = torch.tensor([frame_size[1], frame_size[0]], dtype=torch.float64)
    moved = frame_to_input(torch.from_numpy(labeled(positions)).double()[None], frame_wh, INPUT_SIZE)[0]
    check_labels_on_content(image, moved, invert_affine(resize_matrix(frame_size, INPUT_SIZE)), positions)
    back = step.to_frame(moved[None], frame_wh)[0, 0, :, :2].numpy()
    np.testing.assert_allclose(back, positions, atol=1e-4, rtol=0)  # labels are float32


def test_resize_and_flip_matrices_follow_pixel_centers() -> None:
    resize = resize_matrix((100, 256), (25, 64))  # by 1/4 along x and y
    point = torch.tensor([[100.0, 10.0, 2.0]], dtype=torch.float64)
    assert transform_keypoints(point, resize)[0].tolist() == [24.625, 2.125, 2.0]  # (x + 0.5)/4 - 0.5
    assert transform_keypoints(point, hflip_matrix(256))[0].tolist() == [155.0, 10.0, 2.0]  # 256 - 1 - 100
    both = compose(resize, hflip_matrix(64))
    assert transform_keypoints(point, both)[0].tolist() == [63 - 24.625, 2.125, 2.0]
    frame_wh = torch.tensor([[256.0, 100.0]], dtype=torch.float64)
    assert input_to_frame(transform_keypoints(point, resize)[None, None], frame_wh, (25, 64))[0, 0, 0].tolist() == \
        [100.0, 10.0, 2.0]
