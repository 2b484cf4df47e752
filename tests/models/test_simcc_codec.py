"""SimCC encode → decode round trip, and a tiny RTMPose-style overfit on the dot images."""

from __future__ import annotations

import pytest
import torch

from helpers import overfit_dots
from lightning_pose_arch.models.pose_model import PoseModel
from lightning_pose_arch.models.predictors import SimCCPredictor
from lightning_pose_arch.models.target_generators import SimCCGenerator

SPLIT_RATIOS = [1, 2, 3]
IMAGE = (40, 56)  # H, W: non-square on purpose


def random_keypoints(ratio: int, batch: int = 4, num_kpts: int = 6, seed: int = 0) -> torch.Tensor:
    """Sub-pixel keypoints anywhere in the image (pixel centers 0 … size-1), one individual."""
    generator = torch.Generator().manual_seed(seed + ratio)
    xy = torch.rand(batch, 1, num_kpts, 2, generator=generator) * torch.tensor([IMAGE[1] - 1.0, IMAGE[0] - 1.0])
    return torch.cat([xy, torch.full((batch, 1, num_kpts, 1), 2.0)], dim=-1)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("ratio", SPLIT_RATIOS)
def test_round_trip_returns_the_nearest_bin(ratio, normalize):
    keypoints = random_keypoints(ratio)
    outputs = {"x": torch.zeros(4, 6, IMAGE[1] * ratio), "y": torch.zeros(4, 6, IMAGE[0] * ratio)}
    targets = SimCCGenerator(sigma=2.0, split_ratio=ratio, normalize=normalize)(keypoints, outputs, 1 / ratio)
    decoded = SimCCPredictor(split_ratio=ratio)({axis: t["target"] for axis, t in targets.items()}, 1 / ratio)
    decoded = decoded["keypoints"]
    assert decoded.shape == (4, 1, 6, 3)
    error = (decoded[..., :2] - keypoints[..., :2]).abs()
    assert error.max().item() <= 1 / (2 * ratio) + 1e-5  # within half a bin, well within 1/r px
    torch.testing.assert_close(decoded[..., :2], torch.round(keypoints[..., :2] * ratio) / ratio)


def test_round_trip_on_bin_centers_is_exact():
    ratio = 3
    bins = torch.tensor([[0, 5], [IMAGE[1] * ratio - 1, IMAGE[0] * ratio - 1], [17, 100]], dtype=torch.float32)
    keypoints = torch.cat([bins / ratio, torch.full((3, 1), 2.0)], dim=-1)[None, None]  # [1, 1, 3, 3]
    outputs = {"x": torch.zeros(1, 3, IMAGE[1] * ratio), "y": torch.zeros(1, 3, IMAGE[0] * ratio)}
    targets = SimCCGenerator(split_ratio=ratio)(keypoints, outputs, 1 / ratio)
    decoded = SimCCPredictor(split_ratio=ratio)({a: t["target"] for a, t in targets.items()}, 1 / ratio)["keypoints"]
    assert torch.equal(decoded[..., :2], keypoints[..., :2])
    assert decoded[..., 2].flatten().tolist() == [1.0, 1.0, 1.0]


def rtmcc_model_cfg() -> dict:
    return {
        "backbone": {"type": "CSPNeXt", "variant": "s"},
        "heads": {"bodypart": {
            "type": "RTMCCHead",
            "predictor": {"type": "SimCCPredictor"},
            "target_generator": {"type": "SimCCGenerator", "sigma": 2.0},
            "criterion": {"type": "KLDiscreteLoss"},
            "hidden_dims": 64, "gau_attention_dims": 32,
        }},
    }


def test_cspnext_rtmcc_overfits_the_dot_images():
    torch.manual_seed(0)
    model = PoseModel.from_config(rtmcc_model_cfg(), num_keypoints=2, image_size=(64, 64))
    losses, _ = overfit_dots(model, steps=30, lr=1e-3)
    assert losses[-1] < 0.5 * losses[0], losses
