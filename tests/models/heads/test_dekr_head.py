"""DEKRHead: shapes, per-keypoint offset features, near-zero start, sizes from the data, losses, a tiny overfit."""

from __future__ import annotations

import pytest
import torch

from helpers import DOT_KEYPOINTS, dot_images
from lightning_pose_arch.models.criterions import WeightedHuberCriterion, WeightedMSECriterion
from lightning_pose_arch.models.heads import HEADS, DEKRHead
from lightning_pose_arch.models.pose_model import PoseModel


def head_cfg(num_kpts: int = 3, in_channels: int = 8, **kwargs) -> dict:
    return dict(type="DEKRHead", in_channels=in_channels, num_keypoints=num_kpts,
                predictor=dict(type="DEKRPredictor", max_individuals=4),
                target_generator=dict(type="DEKRGenerator", num_keypoints=num_kpts), **kwargs)


@pytest.mark.parametrize("layers", [0, 1, 2])
def test_outputs_and_upsampling(layers):
    head = HEADS.build(head_cfg(num_deconv_layers=layers, deconv_channels=8, heatmap_channels=4,
                                num_offset_channels_per_keypoint=2))
    assert head.upsampling == 2**layers
    outputs = head(torch.randn(2, 8, 5, 3))
    size = (5 * 2**layers, 3 * 2**layers)
    assert outputs["heatmap"].shape == (2, 4, *size)  # 3 keypoints + the center
    assert outputs["offset"].shape == (2, 6, *size)


def test_each_keypoint_offsets_come_from_its_own_channels():
    head = HEADS.build(head_cfg(num_kpts=3, num_offset_channels_per_keypoint=4)).eval()
    features = head.offset_transition(torch.randn(1, 8, 6, 6))
    changed = features.clone()
    changed[:, 4:8] += torch.randn(1, 4, 6, 6)  # keypoint 1's channels
    with torch.no_grad():
        difference = (head.offset_branch(changed) - head.offset_branch(features)).abs().amax(dim=(0, 2, 3))
    assert difference[[0, 1, 4, 5]].max() == 0  # keypoints 0 and 2: untouched
    assert difference[[2, 3]].min() > 0


def test_outputs_start_near_zero():
    with torch.no_grad():
        outputs = HEADS.build(head_cfg(num_deconv_layers=1))(torch.randn(2, 8, 4, 4))
    assert outputs["heatmap"].abs().max() < 0.05 and outputs["offset"].abs().max() < 0.05


def test_fill_sizes_from_features_and_data():
    cfg = dict(type="DEKRHead", predictor=dict(type="DEKRPredictor"), target_generator=dict(type="DEKRGenerator"))
    filled = DEKRHead.fill_sizes(cfg, in_channels=16, num_keypoints=5)
    assert (filled["in_channels"], filled["num_keypoints"], filled["target_generator"]["num_keypoints"]) == (16, 5, 5)
    assert "num_keypoints" not in cfg["target_generator"]  # not mutated
    head = HEADS.build(filled)
    assert head(torch.randn(1, 16, 4, 4))["offset"].shape == (1, 10, 4, 4)
    kept = DEKRHead.fill_sizes(head_cfg(num_kpts=2, in_channels=4), in_channels=16, num_keypoints=5)
    assert (kept["in_channels"], kept["num_keypoints"]) == (4, 2)


def test_default_criteria_and_loss_terms():
    head = HEADS.build(head_cfg())
    assert isinstance(head.criterion["heatmap"], WeightedMSECriterion)
    assert isinstance(head.criterion["offset"], WeightedHuberCriterion)
    outputs = head(torch.randn(2, 8, 8, 8))
    keypoints = torch.rand(2, 2, 3, 3) * 60
    keypoints[..., 2] = 2.0
    losses = head.get_loss(outputs, head.get_targets(keypoints, outputs, stride=8))
    assert set(losses) == {"total", "heatmap", "offset"}
    torch.testing.assert_close(losses["total"], losses["heatmap"] + losses["offset"])
    assert head.predict(outputs, stride=8)["keypoints"].shape == (2, 4, 3, 3)


def test_generator_must_have_the_head_keypoints():
    cfg = head_cfg(num_kpts=3)
    cfg["target_generator"]["num_keypoints"] = 4
    with pytest.raises(ValueError, match="num_keypoints"):
        HEADS.build(cfg)


@pytest.mark.parametrize("kwargs", [dict(num_deconv_layers=-1), dict(num_offset_channels_per_keypoint=0),
                                    dict(heatmap_channels=0)])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError, match=f"DEKRHead.*{next(iter(kwargs))}"):
        HEADS.build(head_cfg(**kwargs))


@pytest.mark.timeout(120)
def test_tiny_overfit_through_pose_model():
    torch.manual_seed(0)
    head = dict(type="DEKRHead", num_deconv_layers=3, deconv_channels=32,  # CSPNeXt-s: stride 32 → 4
                predictor=dict(type="DEKRPredictor", max_individuals=2),
                target_generator=dict(type="DEKRGenerator", sigma=4.0, center_sigma=4.0, center_radius=8.0))
    model = PoseModel.from_config(dict(backbone=dict(type="CSPNeXt", variant="s"), heads=dict(bodyparts=head)),
                                  num_keypoints=2)
    keypoints = torch.tensor(DOT_KEYPOINTS)  # one animal per image
    batch = {"image": dot_images(keypoints, 64), "keypoints": keypoints}
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):  # the offsets (Huber, in grid cells) dominate the loss and take longer than heatmaps
        outputs = model(batch["image"])
        loss = model.get_loss(outputs, model.get_targets(batch, outputs))
        optimizer.zero_grad()
        loss["total"].backward()
        optimizer.step()
        losses.append((loss["total"].item(), loss["bodyparts/heatmap"].item()))
    assert all(torch.isfinite(torch.tensor(losses)).flatten())
    assert losses[-1][0] < 0.3 * losses[0][0], losses  # observed ~0.035×
    assert losses[-1][1] < 0.5 * losses[0][1], losses  # the heatmap term too (observed ~0.2×)
    with torch.no_grad():  # still in train mode (batch statistics): the best animal decodes near the labels
        predicted = model.predict(model(batch["image"]))["bodyparts"]["keypoints"][:, 0]
    assert (predicted[..., :2] - keypoints[:, 0, :, :2]).abs().max().item() < 6.0  # 1.5 cells; observed ~2.9
