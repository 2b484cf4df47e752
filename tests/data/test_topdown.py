"""Top-down crops: boxes from keypoints, crop ↔ uncrop exactness, aspect ratio, the crop dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lightning_pose_arch.data.formats.dlc import read_project
from lightning_pose_arch.data.topdown import (
    TopDownDataset,
    bbox_from_keypoints,
    crop_transform,
    uncrop_keypoints,
    warp_crops,
)
from lightning_pose_arch.data.transforms import build_eval_transform
from lightning_pose_arch.models.coordinates import invert_affine, warp_image
from lightning_pose_arch.models.coordinates import transform_keypoints as crop_keypoints

NAN = float("nan")


def test_bbox_from_keypoints_pads_about_the_center_and_handles_missing():
    keypoints = torch.tensor([
        [[10.0, 20.0, 2.0], [30.0, 60.0, 1.0], [500.0, 500.0, 0.0]],  # the unlabeled one is ignored
        [[NAN, NAN, 0.0], [NAN, NAN, 0.0], [NAN, NAN, 0.0]],  # nobody labeled: zero box
        [[7.0, 8.0, 2.0], [NAN, 3.0, 2.0], [0.0, 0.0, 0.0]],  # one usable keypoint: min_size box
    ])
    boxes = bbox_from_keypoints(keypoints, padding=1.5, min_size=2.0)
    assert boxes.shape == (3, 4)
    assert boxes[0].tolist() == [5.0, 10.0, 30.0, 60.0]  # tight 20×40 about (20, 40), × 1.5
    assert boxes[1].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert boxes[2].tolist() == [5.5, 6.5, 3.0, 3.0]
    assert bbox_from_keypoints(keypoints[None]).shape == (1, 3, 4)  # any leading shape


@pytest.mark.parametrize("input_size", [(64, 48), (48, 64), (32, 32)])
def test_crop_keeps_aspect_ratio_and_the_whole_box(input_size):
    box = torch.tensor([10.0, 20.0, 30.0, 60.0], dtype=torch.float64)
    matrix = crop_transform(box, input_size)
    assert matrix.shape == (2, 3)
    assert matrix[0, 0] == matrix[1, 1] and matrix[0, 1] == matrix[1, 0] == 0  # one scale, no shear
    corners = torch.tensor([[10.0, 20.0, 1.0], [40.0, 80.0, 1.0]], dtype=torch.float64)
    (x0, y0, _), (x1, y1, _) = crop_keypoints(corners, matrix).tolist()
    height, width = input_size
    assert -0.5 - 1e-9 <= x0 and x1 <= width - 0.5 + 1e-9 and -0.5 - 1e-9 <= y0 and y1 <= height - 0.5 + 1e-9
    # the tighter side fills the crop exactly; the box center lands on the crop center
    assert (x0, x1) == pytest.approx((-0.5, width - 0.5)) or (y0, y1) == pytest.approx((-0.5, height - 0.5))
    assert ((x0 + x1) / 2, (y0 + y1) / 2) == pytest.approx(((width - 1) / 2, (height - 1) / 2))


def test_crop_then_uncrop_is_exact_batched():
    generator = torch.Generator().manual_seed(0)
    keypoints = torch.rand(5, 2, 7, 3, generator=generator) * 500  # [B, N, K, 3], sub-pixel
    keypoints[..., 2] = 2.0
    boxes = bbox_from_keypoints(keypoints[:, 0], padding=1.25)  # one crop per image: [B, 4]
    matrices = crop_transform(boxes, (256, 192))  # [B, 2, 3]
    cropped = crop_keypoints(keypoints, matrices)
    assert not torch.allclose(cropped, keypoints)
    back = uncrop_keypoints(cropped, matrices)
    assert (back - keypoints).abs().max().item() < 1e-3
    assert torch.equal(back[..., 2], keypoints[..., 2])
    torch.testing.assert_close(invert_affine(invert_affine(matrices)), matrices)


def test_crop_transform_rejects_empty_boxes():
    with pytest.raises(ValueError, match="positive width and height"):
        crop_transform(torch.zeros(4), (64, 64))


def test_warp_image_moves_pixels_with_keypoints():
    image = np.zeros((100, 120, 3), np.uint8)
    image[40, 70] = 255  # a single bright pixel at x = 70, y = 40
    matrix = crop_transform(torch.tensor([50.0, 30.0, 40.0, 20.0], dtype=torch.float64), (40, 80))  # scale 2
    crop = warp_image(image, matrix, (40, 80))
    assert crop.shape == (40, 80, 3)
    x, y, _ = crop_keypoints(torch.tensor([[70.0, 40.0, 2.0]], dtype=torch.float64), matrix)[0].tolist()
    assert (x, y) == pytest.approx((39.5, 19.5))  # 2 · (70 - 50) - 0.5, 2 · (40 - 30) - 0.5
    # the bright pixel, spread over a few crop pixels by interpolation, is centered on its keypoint
    weights = crop[..., 0].astype(np.float64)
    rows, cols = np.mgrid[:40, :80]
    centroid = ((weights * cols).sum() / weights.sum(), (weights * rows).sum() / weights.sum())
    assert centroid == pytest.approx((x, y), abs=1e-6)


def test_topdown_dataset_on_a_synthetic_project(synthetic_project: Path):
    project = read_project(synthetic_project)
    keypoints = np.concatenate([project.keypoints, project.keypoints.copy()], axis=1)  # two "individuals"
    keypoints[:, 1, :, 0] += 7.0
    keypoints[0, 1, :, 2] = 0.0  # frame 0 has no second individual
    input_size = (64, 64)
    transform = build_eval_transform(input_size)
    dataset = TopDownDataset(project.root, project.image_paths, keypoints, input_size, transform)
    assert len(dataset) == 2 * len(project.image_paths) - 1
    sample = dataset[0]
    assert sample["image"].shape == (3, 64, 64) and sample["keypoints"].shape == (1, 4, 3)
    assert sample["crop_matrix"].shape == (2, 3) and sample["bboxes"].shape == (1, 4)
    assert sample["original_size"].tolist() == [128.0, 96.0]
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    assert batch["crop_matrix"].shape == (4, 2, 3)
    back = uncrop_keypoints(batch["keypoints"], batch["crop_matrix"])  # [4, 1, K, 3] in file pixels
    for i in range(4):
        frame, individual = dataset.index[i]
        labeled = keypoints[frame, individual, :, 2] > 0
        expected = torch.from_numpy(keypoints[frame, individual, labeled, :2])
        assert (back[i, 0, torch.from_numpy(labeled), :2] - expected).abs().max().item() < 1e-3
        assert torch.equal(batch["keypoints"][i, 0, :, 2] > 0, torch.from_numpy(labeled))


def test_warp_crops_matches_the_training_crops():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(48, 80, 3), dtype=np.uint8)
    boxes = torch.tensor([[[10.0, 5.0, 30.0, 20.0], [50.5, 20.25, 12.0, 25.0]]], dtype=torch.float64)
    matrix = crop_transform(boxes, (32, 24))  # [1, 2, 2, 3]
    crops = warp_crops(torch.from_numpy(image).permute(2, 0, 1)[None].float(), matrix, (32, 24))
    assert crops.shape == (1, 2, 3, 32, 24)
    for n in range(2):
        expected = warp_image(image, matrix[0, n], (32, 24)).astype(np.float32)
        got = crops[0, n].permute(1, 2, 0).numpy()
        assert np.abs(got - expected).max() <= 1.0  # cv2 rounds to uint8 with fixed-point weights
        assert np.abs(got - expected).mean() < 0.3
