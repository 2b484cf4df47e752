"""``PoseLitModule(flip_test=True)``: predict averages with the mirrored input, left/right bodyparts swapped."""

from __future__ import annotations

import torch

from helpers import heatmap_model_cfg
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.models.flip_test import unflip_keypoints

INFO = {"bodyparts": ["snout", "leftear", "rightear", "tailbase"], "individuals": ["single animal"], "skeleton": [],
        "image_size": [64, 96], "normalization": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}


def test_flip_pairs_come_from_dataset_info_or_the_bodypart_names() -> None:
    assert PoseLitModule({"model": heatmap_model_cfg()}, INFO).flip_pairs_by_head() == {"bodypart": [(1, 2)]}
    named = {**INFO, "flip_pairs": [["snout", "tailbase"]]}
    assert PoseLitModule({"model": heatmap_model_cfg()}, named).flip_pairs_by_head() == {"bodypart": [(0, 3)]}


def test_predict_step_with_flip_test_averages_with_the_mirror_in_file_pixels() -> None:
    torch.manual_seed(0)
    module = PoseLitModule({"model": heatmap_model_cfg()}, INFO, flip_test=True).eval()
    batch = {"image": torch.randint(0, 256, (2, 3, 64, 96), dtype=torch.uint8),
             "original_size": torch.tensor([[192.0, 128.0]] * 2), "image_path": ["a.png", "b.png"],
             "keypoints": torch.zeros(2, 1, 4, 3)}
    with torch.no_grad():
        predicted = module.predict_step(batch, 0)["keypoints"]
        model = module.model
        images = model.input_transform(batch["image"])
        plain = model.predict(model(images))["bodypart"]["keypoints"]
        mirror = unflip_keypoints(model.predict(model(images.flip(-1)))["bodypart"]["keypoints"], 96, [(1, 2)])
    expected = (plain + mirror) / 2
    expected[..., :2] = (expected[..., :2] + 0.5) * 2 - 0.5  # input → file pixels (file twice the input size)
    torch.testing.assert_close(predicted, expected)
