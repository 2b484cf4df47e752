"""Codecs as pairs: every head's generator and predictor share their codec parameters, tested through the head.

Each registered head is built with a codec value set on one side only (the
case that used to disagree silently), encodes known keypoints, and decodes
its own targets back to them; explicit disagreements are refused with both
values named.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import pytest
import torch

from helpers import SEED_HEAD_CFG
from lightning_pose_arch.models.codec import SharedParameter, pair_codec
from lightning_pose_arch.models.heads import HEADS
from lightning_pose_arch.registry import ConfigError

CHANNELS = 16
EDGES = [[0, 1], [1, 2]]
# one animal, three keypoints off the pixel grid, inside a 96 × 80 (H × W) image: [1, 1, 3, 3]
KEYPOINTS = torch.tensor([[[[16.3, 30.7, 2.0], [36.1, 40.2, 2.0], [48.6, 62.4, 2.0]]]])

class Case(NamedTuple):
    cfg: dict
    features: tuple[int, int]  # h', w' of the features (feature stride 8: a 96 × 80 image)
    tolerance: float  # px, decode(encode(keypoints)) vs keypoints
    mismatch: tuple[str, str, object, object]  # (part, key, its value, the other side's) that contradict


def heatmap_config(num_deconv_layers: int = 1) -> dict:
    return dict(num_input_channels=CHANNELS, num_output_channels=3, num_deconv_layers=num_deconv_layers,
                deconv_channels=8)


CASES = {
    # predictor locref_std set, generator's unset: the generator must take 5.0 (it used to encode with 7.2801)
    "HeatmapHead": Case(
        dict(type="HeatmapHead", predictor=dict(type="HeatmapPredictor", locref_std=5.0),
             target_generator=dict(type="HeatmapGaussianGenerator", num_heatmaps=3),
             criterion=dict(type="WeightedMSECriterion"), heatmap_config=heatmap_config()),
        (12, 10), 0.1, ("target_generator", "locref_std", 7.2801, 5.0)),
    "PAFHead": Case(
        dict(type="PAFHead", edges=EDGES,
             predictor=dict(type="PartAffinityFieldPredictor", edges=EDGES, locref_std=5.0),
             target_generator=dict(type="PAFGenerator", num_heatmaps=3, edges=EDGES), heatmap_config=heatmap_config()),
        (12, 10), 0.1, ("target_generator", "locref_std", 7.2801, 5.0)),
    # DEKR shares the stride (offsets in cells) and K; K is its explicit parameter
    "DEKRHead": Case(
        dict(type="DEKRHead", in_channels=CHANNELS, num_keypoints=3, predictor=dict(type="DEKRPredictor"),
             target_generator=dict(type="DEKRGenerator", num_keypoints=3)),
        (12, 10), 1e-3, ("target_generator", "num_keypoints", 4, 3)),
    # predictor split ratio set, generator's and head's unset: all three must use 3 bins per pixel
    "RTMCCHead": Case(
        dict(type="RTMCCHead", predictor=dict(type="SimCCPredictor", split_ratio=3.0),
             target_generator=dict(type="SimCCGenerator"), criterion=dict(type="KLDiscreteLoss"),
             in_channels=CHANNELS, num_keypoints=3, input_size=[96, 80], in_featuremap_size=[12, 10],
             hidden_dims=16, gau_attention_dims=8),
        (12, 10), 1 / 6 + 1e-5, ("target_generator", "split_ratio", 2.0, 3.0)),
}


def test_every_head_has_a_codec_case():
    assert set(CASES) == set(HEADS.names())


@pytest.mark.parametrize("name", sorted(CASES))
def test_head_decodes_its_own_targets(name):
    case = CASES[name]
    head = HEADS.build(case.cfg)
    outputs = head(torch.zeros(1, CHANNELS, *case.features))
    stride = 8 / head.upsampling
    keypoints = KEYPOINTS
    targets = head.get_targets(keypoints, outputs, stride)
    decoded = head.predict({output: target["target"] for output, target in targets.items()}, stride)["keypoints"]
    error = (decoded[:, :1, :, :2] - keypoints[..., :2]).abs().max().item()
    assert error <= case.tolerance, f"{name}: decoded {decoded[:, :1, :, :2].tolist()}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_explicit_disagreement_is_refused_naming_both_values(name):
    part, key, theirs, ours = CASES[name].mismatch
    cfg = copy.deepcopy(CASES[name].cfg)
    cfg[part][key] = theirs
    with pytest.raises(ValueError, match=rf"{key}.*\b{theirs}\b.*\b{ours}\b|{key}.*\b{ours}\b.*\b{theirs}\b"):
        HEADS.build(cfg)


def test_unset_values_take_the_other_side_and_the_design_example_builds():
    head = HEADS.build(CASES["HeatmapHead"].cfg)
    assert head.target_generator.locref_std == head.predictor.locref_std == 5.0 == head.codec["locref_std"]
    seed = HEADS.build(SEED_HEAD_CFG)  # DESIGN.md: predictor locref_std=7.2801, the generator's unset
    assert seed.target_generator.locref_std == 7.2801 and seed.codec["location_refinement"] is True
    no_locref = HEADS.build(dict(CASES["HeatmapHead"].cfg, predictor=dict(type="HeatmapPredictor",
                                                                          location_refinement=False)))
    assert no_locref.target_generator.generate_locref is False and no_locref.locref_branch is None
    rtmcc = HEADS.build(CASES["RTMCCHead"].cfg)
    assert rtmcc.simcc_split_ratio == rtmcc.target_generator.split_ratio == 3.0
    assert rtmcc.num_bins == (288, 240)


def test_the_head_value_counts_as_explicit():
    cfg = dict(CASES["RTMCCHead"].cfg, simcc_split_ratio=2.0)
    with pytest.raises(ConfigError, match=r"RTMCCHead.simcc_split_ratio=2.0, SimCCPredictor.split_ratio=3.0"):
        HEADS.build(cfg)


class Plain:
    """A part that does not say which values it was given: all of its codec attributes count."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def test_pair_codec_with_parts_that_do_not_record_what_they_were_given():
    shared = {"scale": SharedParameter("scale", "scale"), "absent": SharedParameter("absent", "absent")}
    generator, predictor = Plain(scale=2.0), Plain()
    assert pair_codec("Head", generator, predictor, shared) == {"scale": 2.0, "absent": None}
    assert not hasattr(predictor, "scale")  # a part without the attribute takes no part
    with pytest.raises(ConfigError, match=r"Head: .* share scale, got Plain.scale=2.0, Plain.scale=3.0"):
        pair_codec("Head", generator, Plain(scale=3.0), shared)
