import numpy as np
import pytest
import torch

from lightning_pose_arch.data.dataset import read_image
from lightning_pose_arch.data.formats import read_project
from lightning_pose_arch.data.synthetic_multi import example_multi_animal_project
from lightning_pose_arch.data.transforms import (
    AugmentationConfig,
    build_eval_transform,
    build_train_transform,
    infer_flip_pairs,
)
from lightning_pose_arch.models.coordinates import input_to_frame

NO_RANDOM = dict(affine_p=0.0, brightness_contrast_p=0.0)


def test_infer_flip_pairs() -> None:
    assert infer_flip_pairs(["snout", "leftear", "rightear", "tailbase"]) == [(1, 2)]
    assert infer_flip_pairs(["L_paw", "nose", "R_paw", "left_eye", "right_eye"]) == [(0, 2), (3, 4)]
    assert infer_flip_pairs(["head", "tail"]) == []


def test_flip_moves_and_swaps_left_right() -> None:
    transform = build_train_transform((4, 8), AugmentationConfig(hflip_p=1.0, **NO_RANDOM), [(0, 1)])
    image = np.zeros((4, 8, 3), np.uint8)
    image[:, 0] = 255  # left column bright
    keypoints = np.array([[[1.0, 1.0, 2], [6.0, 2.0, 2], [3.0, 3.0, 1]]], np.float32)
    tensor, moved = transform(image, keypoints)
    # x' = W - 1 - x (pixel centers at integers), and keypoints 0/1 trade places.
    np.testing.assert_allclose(moved[0].numpy(), [[1.0, 2.0, 2], [6.0, 1.0, 2], [4.0, 3.0, 1]])
    assert tensor.dtype == torch.uint8 and tensor[0, 0, 7] == 255 and tensor[0, 0, 0] == 0  # the column moved right


def test_eval_transform_resize_inverts_exactly() -> None:
    transform = build_eval_transform((48, 64))
    keypoints = np.array([[[10.0, 20.0, 2], [0.0, 0.0, 0], [127.0, 95.0, 2]]], np.float32)
    image, resized = transform(np.zeros((96, 128, 3), np.uint8), keypoints)
    assert image.shape == (3, 48, 64) and image.dtype == torch.uint8
    # Pixel centers at integers: x → (x + 0.5)·s − 0.5 with s = 1/2, not x·s.
    np.testing.assert_allclose(resized[0, 0].numpy(), [4.75, 9.75, 2])
    np.testing.assert_allclose(resized[0, 2].numpy(), [63.25, 47.25, 2])
    back = input_to_frame(resized[None], torch.tensor([[128.0, 96.0]]), (48, 64))
    np.testing.assert_allclose(back[0, :, [0, 2]].numpy(), keypoints[:, [0, 2]], atol=1e-5)  # the labeled ones


def test_keypoints_pushed_out_of_the_image_become_unlabeled() -> None:
    aug = AugmentationConfig(translate=0.5, affine_p=1.0, scale=0.0, rotation=0.0, hflip_p=0.0, brightness_contrast_p=0.0)
    transform = build_train_transform((32, 32), aug, [])
    keypoints = np.array([[[1.0, 1.0, 2], [30.0, 30.0, 2], [16.0, 16.0, 2]]], np.float32)
    seen_outside = False
    for _ in range(20):
        _, moved = transform(np.zeros((32, 32, 3), np.uint8), keypoints)
        inside = (moved[0, :, :2] >= -0.5).all(-1) & (moved[0, :, :2] <= 31.5).all(-1)
        assert torch.all(moved[0, ~inside, 2] == 0) or inside.all()
        seen_outside |= bool((moved[0, :, 2] == 0).any())
        assert torch.all(moved[0, moved[0, :, 2] == 0, :2] == 0)
    assert seen_outside


def test_eval_transform_at_the_input_size_keeps_the_pixels() -> None:
    image = np.random.default_rng(0).integers(0, 256, size=(32, 48, 3), dtype=np.uint8)
    tensor, _ = build_eval_transform((32, 48))(image, np.zeros((1, 1, 3), np.float32))
    np.testing.assert_array_equal(tensor.permute(1, 2, 0).numpy(), image)


def test_bad_augmentation_values() -> None:
    with pytest.raises(ValueError, match="hflip_p"):
        AugmentationConfig(hflip_p=1.5)


def test_flip_mirrors_and_swaps_left_right_of_every_animal() -> None:
    """Three animals of the bundled multi-animal project: every animal's left/right labels trade places."""
    data = read_project(example_multi_animal_project())
    frame = next(f for f in range(data.num_frames) if (data.keypoints[f, :, :, 2] > 0).any(-1).sum() == 3)
    image = read_image(data.root / data.image_paths[frame])
    height, width = image.shape[:2]
    pairs = infer_flip_pairs(data.bodyparts)
    assert [(data.bodyparts[i], data.bodyparts[j]) for i, j in pairs] == [("leftear", "rightear")]
    transform = build_train_transform((height, width), AugmentationConfig(hflip_p=1.0, **NO_RANDOM), pairs)
    keypoints, unique = data.keypoints[frame], data.unique_keypoints[frame]
    flipped_image, moved, moved_unique = transform.apply(image, keypoints, unique)
    order = list(range(len(data.bodyparts)))
    order[pairs[0][0]], order[pairs[0][1]] = pairs[0][1], pairs[0][0]
    expected = keypoints[:, order].copy()
    labeled = expected[..., 2] > 0
    expected[..., 0] = np.where(labeled, width - 1 - expected[..., 0], 0.0)
    np.testing.assert_allclose(moved.numpy(), expected, atol=1e-4)  # all 3 (+ empty) animals
    assert labeled.any(-1).sum() == 3
    np.testing.assert_allclose(moved_unique[..., 0].numpy(), width - 1 - unique[..., 0], atol=1e-4)
    # The flipped image shows at each moved keypoint what the original showed at its mirror.
    mirrored = np.ascontiguousarray(image[:, ::-1])
    np.testing.assert_array_equal(flipped_image.permute(1, 2, 0).numpy(), mirrored)
    x, y = moved[labeled][:, 0].long().numpy(), moved[labeled][:, 1].long().numpy()
    original_x, original_y = keypoints[:, order][labeled][:, 0].astype(int), keypoints[:, order][labeled][:, 1].astype(int)
    np.testing.assert_array_equal(mirrored[y, x], image[original_y, original_x])
