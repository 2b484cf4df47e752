"""PAFHead: branches and shapes, edges filled from the data and checked across parts, default criteria, overfit."""

from __future__ import annotations

import copy

import pytest
import torch

from helpers import overfit_dots
from lightning_pose_arch.models.criterions import WeightedHuberCriterion, WeightedMSECriterion
from lightning_pose_arch.models.heads import HEADS, PAFHead
from lightning_pose_arch.models.pose_model import PoseModel

CHAIN = [[0, 1], [1, 2]]


def head_cfg(num_kpts: int = 3, edges=CHAIN, locref: bool = True, **heatmap_config) -> dict:
    return dict(
        type="PAFHead",
        edges=edges,
        predictor=dict(type="PartAffinityFieldPredictor", edges=edges, location_refinement=locref),
        target_generator=dict(type="PAFGenerator", num_heatmaps=num_kpts, edges=edges, generate_locref=locref),
        heatmap_config=dict(dict(num_input_channels=8, num_output_channels=num_kpts, deconv_channels=8),
                            **heatmap_config),
    )


@pytest.mark.parametrize("layers", [0, 2])
def test_outputs_and_channel_counts(layers):
    head = HEADS.build(head_cfg(num_deconv_layers=layers))
    assert isinstance(head, PAFHead) and head.upsampling == 2**layers
    outputs = head(torch.randn(2, 8, 5, 3))
    size = (5 * 2**layers, 3 * 2**layers)
    assert {name: tuple(out.shape) for name, out in outputs.items()} == {
        "heatmap": (2, 3, *size), "locref": (2, 6, *size), "paf": (2, 4, *size)}
    assert set(HEADS.build(head_cfg(locref=False))(torch.randn(1, 8, 4, 4))) == {"heatmap", "paf"}
    shared = HEADS.build(dict(head_cfg(num_deconv_layers=layers), share_deconvs=True))
    assert {name: tuple(out.shape) for name, out in shared(torch.randn(2, 8, 5, 3)).items()} == {
        "heatmap": (2, 3, *size), "locref": (2, 6, *size), "paf": (2, 4, *size)}
    assert len(shared.paf_branch) == len(shared.locref_branch) == 1  # one conv each on the shared deconvolutions


def test_final_convs_start_near_zero():
    head = HEADS.build(head_cfg(num_deconv_layers=1))
    for branch in (head.heatmap_branch, head.locref_branch, head.paf_branch):
        assert branch[-1].weight.std().item() < 0.002 and (branch[-1].bias == 0).all()


def test_parts_must_agree_on_edges():
    cfg = head_cfg()
    cfg["target_generator"]["edges"] = [[0, 1]]
    with pytest.raises(ValueError, match="must agree"):
        HEADS.build(cfg)
    cfg = head_cfg()
    del cfg["predictor"]["edges"]  # the complete graph over 3 keypoints: 3 edges, not the chain's 2
    with pytest.raises(ValueError, match="must agree"):
        HEADS.build(cfg)
    assert HEADS.build(dict(head_cfg(edges=None), edges=None)).edges == [(0, 1), (0, 2), (1, 2)]


def test_paf_config_must_fit_edges_and_heatmap_branch():
    cfg = head_cfg(num_deconv_layers=1)
    cfg["paf_config"] = dict(num_input_channels=8, num_output_channels=6, num_deconv_layers=1)
    with pytest.raises(ValueError, match="paf_config num_output_channels must be 2 × 2 edges, got 6"):
        HEADS.build(cfg)
    cfg["paf_config"] = dict(num_input_channels=8, num_output_channels=4, num_deconv_layers=2)
    with pytest.raises(ValueError, match="PAFHead paf_config must keep"):
        HEADS.build(cfg)
    cfg["paf_config"] = dict(num_input_channels=8, num_output_channels=4, num_deconv_layers=1, deconv_channels=16)
    assert HEADS.build(cfg).paf_branch[0].out_channels == 16


def test_fill_sizes_from_skeleton_or_complete_graph_without_mutating():
    cfg = head_cfg(edges=None)
    for part in (cfg, cfg["predictor"], cfg["target_generator"]):
        del part["edges"]
    del cfg["heatmap_config"]
    del cfg["target_generator"]["num_heatmaps"]
    before = copy.deepcopy(cfg)
    filled = PAFHead.fill_sizes(cfg, in_channels=32, num_keypoints=4, skeleton=[(0, 1), (1, 3)])
    assert cfg == before
    assert filled["heatmap_config"] == {"num_input_channels": 32, "num_output_channels": 4}
    assert filled["edges"] == filled["predictor"]["edges"] == filled["target_generator"]["edges"] == [[0, 1], [1, 3]]
    complete = PAFHead.fill_sizes(cfg, in_channels=32, num_keypoints=3)
    assert complete["edges"] == complete["predictor"]["edges"] == [[0, 1], [0, 2], [1, 2]]
    assert "edges" not in PAFHead.fill_sizes(cfg, in_channels=32, num_keypoints=None)
    explicit = PAFHead.fill_sizes(dict(cfg, edges=[[2, 0]]), in_channels=32, num_keypoints=3, skeleton=[(0, 1)])
    assert explicit["edges"] == explicit["target_generator"]["edges"] == [[2, 0]]
    assert HEADS.build(explicit).edges == [(2, 0)]


def test_default_criteria_per_output():
    head = HEADS.build(head_cfg())
    assert {name: type(c) for name, c in head.criterion.items()} == {
        "heatmap": WeightedMSECriterion, "paf": WeightedMSECriterion, "locref": WeightedHuberCriterion}
    partial = HEADS.build(dict(head_cfg(), criterion=dict(paf=dict(type="WeightedHuberCriterion"))))
    assert type(partial.criterion["paf"]) is WeightedHuberCriterion
    assert type(partial.criterion["heatmap"]) is WeightedMSECriterion
    single = HEADS.build(dict(head_cfg(), criterion=dict(type="WeightedMSECriterion")))
    assert isinstance(single.criterion, WeightedMSECriterion)


def test_loss_terms_and_prediction_shape():
    head = HEADS.build(head_cfg(num_deconv_layers=1))
    outputs = head(torch.randn(2, 8, 4, 4))
    keypoints = torch.rand(2, 2, 3, 3) * 31
    keypoints[..., 2] = 2
    targets = head.get_targets(keypoints, outputs, stride=4.0)
    losses = head.get_loss(outputs, targets)
    assert set(losses) == {"total", "heatmap", "locref", "paf"}
    torch.testing.assert_close(losses["total"], losses["heatmap"] + losses["locref"] + losses["paf"])
    paf_mse = (outputs["paf"] - targets["paf"]["target"]).square().mean()  # every edge labeled: all weights 1
    torch.testing.assert_close(losses["paf"], paf_mse)
    assert head.predict(outputs, stride=4.0)["keypoints"].shape == (2, 10, 3, 3)


def paf_model_cfg(backbone: dict | None = None) -> dict:
    return dict(backbone=backbone or dict(type="ResNet", variant="50"), heads=dict(bodyparts=dict(
        type="PAFHead", predictor=dict(type="PartAffinityFieldPredictor"),
        target_generator=dict(type="PAFGenerator", pos_dist_thresh=8, paf_width=8),
        heatmap_config=dict(num_deconv_layers=3, deconv_channels=32))))


def test_pose_model_fills_edges_from_the_skeleton():
    model = PoseModel.from_config(paf_model_cfg(), num_keypoints=4, skeleton=[(0, 1), (1, 2), (2, 3)])
    head = model.heads["bodyparts"]
    assert head.edges == head.target_generator.edges == head.predictor.edges == [(0, 1), (1, 2), (2, 3)]
    assert head.paf_branch[-1].out_channels == 6 and model.head_strides == {"bodyparts": 4.0}


@pytest.mark.timeout(120)
def test_tiny_overfit_drives_loss_down():
    """Two dot images, 2 keypoints, no skeleton: one edge (the complete graph); CSPNeXt-s, head stride 4."""
    torch.manual_seed(0)
    model = PoseModel.from_config(paf_model_cfg(dict(type="CSPNeXt", variant="s")), num_keypoints=2)
    assert model.heads["bodyparts"].edges == [(0, 1)]
    losses, batch = overfit_dots(model, steps=20)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.3 * losses[0], losses  # observed: 0.02 × the initial loss
    with torch.no_grad():  # still in train mode (batch statistics): the fitted maps decode to the labels
        predicted = model.predict(model(batch["image"]))["bodyparts"]["keypoints"]
    assert (predicted[:, 0, :, :2] - batch["keypoints"][:, 0, :, :2]).abs().max().item() < 2.0  # observed ~0.3
    assert (predicted[:, 1:] == 0).all()  # one individual per image, found once
