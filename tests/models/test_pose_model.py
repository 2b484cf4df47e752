"""PoseModel: built from a config with sizes filled in, targets/losses/predictions, a tiny overfit."""

from __future__ import annotations

import copy

import pytest
import torch

from lightning_pose_arch.models.heads import HeatmapHead
from helpers import overfit_dots
from lightning_pose_arch.models.pose_model import PoseModel
from lightning_pose_arch.registry import ConfigError


def heatmap_head(**heatmap_config) -> dict:
    """HeatmapHead config with the sizes left unset unless given."""
    cfg = dict(
        type="HeatmapHead",
        predictor=dict(type="HeatmapPredictor", location_refinement=True),
        target_generator=dict(type="HeatmapGaussianGenerator", pos_dist_thresh=8, generate_locref=True),
        criterion=dict(type="WeightedMSECriterion"),
    )
    if heatmap_config:
        cfg["heatmap_config"] = heatmap_config
    return cfg


def model_cfg(backbone: dict | None = None, **heads) -> dict:
    return dict(backbone=backbone or dict(type="ResNet", variant="50"),
                heads=heads or dict(bodyparts=heatmap_head(num_deconv_layers=1, deconv_channels=16)))


def labeled(batch: int, individuals: int, num_kpts: int, size: float, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    keypoints = torch.rand(batch, individuals, num_kpts, 3, generator=generator) * (size - 1)
    keypoints[..., 2] = 2.0
    return keypoints


@pytest.fixture(scope="module")
def resnet_model() -> PoseModel:
    torch.manual_seed(0)
    return PoseModel.from_config(model_cfg(), num_keypoints=4)


def test_from_config_fills_sizes(resnet_model):
    head = resnet_model.heads["bodyparts"]
    assert isinstance(head, HeatmapHead)
    assert head.in_channels == 2048
    assert head.heatmap_branch[-1].out_channels == 4
    assert head.locref_branch[-1].out_channels == 8
    assert head.target_generator.num_heatmaps == 4
    assert resnet_model.feature_stride == 32
    assert resnet_model.head_strides == {"bodyparts": 16.0}
    outputs = resnet_model(torch.randn(2, 3, 64, 96))
    assert outputs["bodyparts"]["heatmap"].shape == (2, 4, 4, 6)
    assert outputs["bodyparts"]["locref"].shape == (2, 8, 4, 6)


def test_from_config_does_not_mutate_cfg():
    cfg = model_cfg(backbone=dict(type="CSPNeXt", variant="s"))
    before = copy.deepcopy(cfg)
    PoseModel.from_config(cfg, num_keypoints=3)
    assert cfg == before


def test_channel_mismatch_names_both_numbers():
    cfg = model_cfg(bodyparts=heatmap_head(num_input_channels=256, num_deconv_layers=0))
    with pytest.raises(ConfigError) as info:
        PoseModel.from_config(cfg, num_keypoints=4)
    message = str(info.value)
    assert "256" in message and "2048" in message and "bodyparts" in message


def test_misspelled_top_level_key():
    cfg = model_cfg()
    cfg["backbon"] = cfg.pop("backbone")
    with pytest.raises(ConfigError, match="did you mean 'backbone'"):
        PoseModel.from_config(cfg, num_keypoints=4)


def test_missing_backbone_or_heads_and_untyped_head():
    with pytest.raises(ConfigError, match="'backbone' and 'heads'"):
        PoseModel.from_config(dict(backbone=dict(type="CSPNeXt", variant="s")), num_keypoints=2)
    with pytest.raises(ConfigError, match="heads.bodyparts"):
        PoseModel.from_config(model_cfg(bodyparts=dict(heatmap_config={})), num_keypoints=2)
    with pytest.raises(ConfigError, match="at least one head"):
        PoseModel.from_config(dict(backbone=dict(type="CSPNeXt", variant="s"), heads={}), num_keypoints=2)


def test_unknown_head_type_suggests():
    cfg = model_cfg(bodyparts=dict(heatmap_head(), type="HeatmapHed"))
    with pytest.raises(ConfigError, match="HEADS.*did you mean 'HeatmapHead'"):
        PoseModel.from_config(cfg, num_keypoints=2)


def test_targets_losses_and_predictions(resnet_model):
    images = torch.randn(2, 3, 64, 64)
    batch = {"image": images, "keypoints": labeled(2, 1, 4, 64)}
    outputs = resnet_model(images)
    targets = resnet_model.get_targets(batch, outputs)
    assert set(targets) == {"bodyparts"}
    assert set(targets["bodyparts"]) == {"heatmap", "locref"}
    assert targets["bodyparts"]["heatmap"]["target"].shape == (2, 4, 4, 4)
    losses = resnet_model.get_loss(outputs, targets)
    assert set(losses) == {"total", "bodyparts/total", "bodyparts/heatmap", "bodyparts/locref"}
    assert losses["total"].shape == ()
    torch.testing.assert_close(losses["total"], losses["bodyparts/total"])
    torch.testing.assert_close(losses["total"], losses["bodyparts/heatmap"] + losses["bodyparts/locref"])
    predictions = resnet_model.predict(outputs)
    assert set(predictions) == {"bodyparts"}
    assert predictions["bodyparts"]["keypoints"].shape == (2, 1, 4, 3)


def test_targets_use_the_head_stride():
    """A keypoint on a cell center of the head's grid gets target 1 in exactly that cell."""
    model = PoseModel.from_config(model_cfg(backbone=dict(type="CSPNeXt", variant="s")), num_keypoints=1)
    stride = model.head_strides["bodyparts"]
    assert stride == 16
    outputs = model(torch.zeros(1, 3, 64, 64))
    keypoints = torch.tensor([[[[2.5 * stride - 0.5, 1.5 * stride - 0.5, 2.0]]]])  # cell (row 1, col 2)
    heatmap = model.get_targets({"keypoints": keypoints}, outputs)["bodyparts"]["heatmap"]["target"][0, 0]
    assert heatmap[1, 2].item() == pytest.approx(1.0)
    assert heatmap.argmax().item() == 1 * 4 + 2


def test_two_heads_with_their_own_label_keys():
    cfg = model_cfg(
        backbone=dict(type="CSPNeXt", variant="s"),
        bodyparts=heatmap_head(num_deconv_layers=1, deconv_channels=8),
        unique=dict(heatmap_head(num_deconv_layers=2, deconv_channels=8, num_output_channels=2),
                    target_generator=dict(type="HeatmapGaussianGenerator", num_heatmaps=2)),
    )
    cfg["label_keys"] = dict(unique="unique_keypoints")
    model = PoseModel.from_config(cfg, num_keypoints=3)
    assert model.head_strides == {"bodyparts": 16.0, "unique": 8.0}
    assert model.label_keys == {"bodyparts": "keypoints", "unique": "unique_keypoints"}
    images = torch.randn(2, 3, 64, 64)
    batch = {"image": images, "keypoints": labeled(2, 3, 3, 64), "unique_keypoints": labeled(2, 1, 2, 64, seed=1)}
    outputs = model(images)
    assert outputs["unique"]["heatmap"].shape == (2, 2, 8, 8)
    targets = model.get_targets(batch, outputs)
    assert targets["unique"]["heatmap"]["target"].shape == (2, 2, 8, 8)
    losses = model.get_loss(outputs, targets)
    torch.testing.assert_close(losses["total"], losses["bodyparts/total"] + losses["unique/total"])
    predictions = model.predict(outputs)
    assert predictions["bodyparts"]["keypoints"].shape == (2, 1, 3, 3)
    assert predictions["unique"]["keypoints"].shape == (2, 1, 2, 3)


def test_each_head_gets_the_keypoint_count_of_its_label_key():
    cfg = model_cfg(backbone=dict(type="CSPNeXt", variant="s"), bodyparts=dict(type="HeatmapHead",
                    predictor=dict(type="HeatmapPredictor"), target_generator=dict(type="HeatmapGaussianGenerator"),
                    criterion=dict(type="WeightedMSECriterion"), heatmap_config=dict(num_deconv_layers=1)))
    cfg["heads"]["unique"] = copy.deepcopy(cfg["heads"]["bodyparts"])
    cfg["label_keys"] = dict(unique="unique_keypoints")
    model = PoseModel.from_config(cfg, num_keypoints={"keypoints": 7, "unique_keypoints": 1})
    outputs = model(torch.randn(1, 3, 64, 64))
    assert outputs["bodyparts"]["heatmap"].shape[1] == 7 and outputs["unique"]["heatmap"].shape[1] == 1
    with pytest.raises(ConfigError, match="label_keys.unique is 'unique_keypoints'; the data has \\['keypoints'\\]"):
        PoseModel.from_config(cfg, num_keypoints={"keypoints": 7})


def test_backward_reaches_every_parameter():
    model = PoseModel.from_config(model_cfg(backbone=dict(type="HRNet", variant="w18", fuse_branches=False),
                                            bodyparts=heatmap_head(num_deconv_layers=0)), num_keypoints=2)
    images = torch.randn(2, 3, 32, 32)
    outputs = model(images)
    loss = model.get_loss(outputs, model.get_targets({"keypoints": labeled(2, 1, 2, 32)}, outputs))["total"]
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing[:5]



@pytest.mark.timeout(120)
def test_tiny_overfit_drives_loss_down():
    torch.manual_seed(0)
    cfg = model_cfg(bodyparts=heatmap_head(num_deconv_layers=3, deconv_channels=32))  # ResNet-50, head stride 4
    model = PoseModel.from_config(cfg, num_keypoints=2)
    losses, batch = overfit_dots(model)
    keypoints = batch["keypoints"]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.5 * losses[0], losses
    assert min(losses[-5:]) < 0.1 * losses[0], losses  # observed: ~0.01 × the initial loss
    with torch.no_grad():  # still in train mode (batch statistics): the fitted maps decode to the labels
        predicted = model.predict(model(batch["image"]))["bodyparts"]["keypoints"]
    assert (predicted[..., :2] - keypoints[..., :2]).abs().max().item() < 2.0  # half the head stride; observed ~0.3
