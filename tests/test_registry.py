"""Registry: build from dicts, nested builds, no mutation, did-you-mean errors."""

from __future__ import annotations

import copy

import pytest
import torch

import lightning_pose_arch.registry as registry_module
from helpers import SEED_HEAD_CFG
from lightning_pose_arch.models.aggregators import AGGREGATORS, WeightedLossAggregator
from lightning_pose_arch.models.backbones import BACKBONES, ResNet
from lightning_pose_arch.models.criterions import CRITERIONS, WeightedHuberCriterion, WeightedMSECriterion
from lightning_pose_arch.models.heads import HEADS, HeatmapHead
from lightning_pose_arch.models.predictors import PREDICTORS, HeatmapPredictor
from lightning_pose_arch.models.target_generators import TARGET_GENERATORS, HeatmapGaussianGenerator
from lightning_pose_arch.registry import ConfigError, Registry, did_you_mean


def head_cfg(**overrides) -> dict:
    """The DESIGN.md seed head config (with optional top-level overrides)."""
    cfg = copy.deepcopy(SEED_HEAD_CFG)
    cfg.update(overrides)
    return cfg


@pytest.fixture
def private_registries(monkeypatch):
    """Registries created in a test do not leak into the global nested-build lookup."""
    monkeypatch.setattr(registry_module, "_REGISTRIES", list(registry_module._REGISTRIES))


# --- building -------------------------------------------------------------------------------------


def test_build_from_dict_passes_arguments():
    criterion = CRITERIONS.build(dict(type="WeightedHuberCriterion", delta=2.5))
    assert isinstance(criterion, WeightedHuberCriterion)
    assert criterion.delta == 2.5

    generator = TARGET_GENERATORS.build(dict(type="HeatmapGaussianGenerator", num_heatmaps=3, pos_dist_thresh=9))
    assert isinstance(generator, HeatmapGaussianGenerator)
    assert (generator.num_heatmaps, generator.pos_dist_thresh) == (3, 9.0)


def test_nested_build_head_builds_its_parts():
    head = HEADS.build(head_cfg(aggregator=dict(type="WeightedLossAggregator", weights=dict(locref=0.05))))
    assert isinstance(head, HeatmapHead)
    assert isinstance(head.predictor, HeatmapPredictor)
    assert head.predictor.location_refinement is True and head.predictor.locref_std == pytest.approx(7.2801)
    assert isinstance(head.target_generator, HeatmapGaussianGenerator)
    assert head.target_generator.num_heatmaps == 17 and head.target_generator.pos_dist_thresh == 17.0
    assert isinstance(head.criterion, WeightedMSECriterion)
    assert isinstance(head.aggregator, WeightedLossAggregator) and head.aggregator.weights == {"locref": 0.05}
    # heatmap_config is a plain dict (no type): passed through, not built
    assert head.in_channels == 256 and head.upsampling == 2


def test_nested_build_dict_of_typed_dicts():
    """``criterion={output: {type: ...}}`` builds each value with the criterion registry."""
    head = HEADS.build(head_cfg(criterion=dict(
        heatmap=dict(type="WeightedMSECriterion"), locref=dict(type="WeightedHuberCriterion", delta=0.5))))
    assert isinstance(head.criterion["heatmap"], WeightedMSECriterion)
    assert isinstance(head.criterion["locref"], WeightedHuberCriterion)
    assert head.criterion["locref"].delta == 0.5


def test_build_does_not_mutate_the_callers_dict():
    cfg = head_cfg(criterion=dict(heatmap=dict(type="WeightedMSECriterion"), locref=dict(type="WeightedMSECriterion")),
                   aggregator=dict(type="WeightedLossAggregator", weights=dict(locref=0.1)))
    before = copy.deepcopy(cfg)
    HEADS.build(cfg)
    assert cfg == before
    # nested dicts are still dicts (not replaced by built objects)
    assert isinstance(cfg["predictor"], dict) and isinstance(cfg["criterion"]["locref"], dict)


def test_build_none_returns_none():
    for reg in (BACKBONES, HEADS, PREDICTORS, TARGET_GENERATORS, CRITERIONS, AGGREGATORS):
        assert reg.build(None) is None


def test_built_objects_pass_through_unchanged():
    predictor = HeatmapPredictor(location_refinement=False)
    assert PREDICTORS.build(predictor) is predictor
    criterion = WeightedMSECriterion()
    head = HEADS.build(head_cfg(criterion=criterion, predictor=dict(type="HeatmapPredictor", location_refinement=False),
                                target_generator=dict(type="HeatmapGaussianGenerator", num_heatmaps=17,
                                                      generate_locref=False)))
    assert head.criterion is criterion
    assert head.locref_branch is None


def test_names_lists_registered_members():
    assert BACKBONES.names() == ["CSPNeXt", "HRNet", "ResNet"]
    assert "HeatmapHead" in HEADS.names()
    assert {"HeatmapGaussianGenerator", "HeatmapPlateauGenerator"} <= set(TARGET_GENERATORS.names())
    assert {"WeightedMSECriterion", "WeightedHuberCriterion", "WeightedBCECriterion"} <= set(CRITERIONS.names())
    assert PREDICTORS.names() == sorted(PREDICTORS.names())
    assert "ResNet" in BACKBONES and "Nope" not in BACKBONES
    assert list(BACKBONES) == BACKBONES.names()
    assert BACKBONES.get("ResNet") is ResNet


# --- errors ---------------------------------------------------------------------------------------


def test_unknown_type_names_registry_and_suggests():
    with pytest.raises(ConfigError) as info:
        HEADS.build(head_cfg(type="HeatmapHed"))
    message = str(info.value)
    assert "HEADS" in message
    assert "'HeatmapHed'" in message
    assert "did you mean 'HeatmapHead'" in message


def test_unknown_nested_type_names_its_registry():
    with pytest.raises(ConfigError) as info:
        HEADS.build(head_cfg(criterion=dict(type="WeightedMSECriterio")))
    assert "CRITERIONS" in str(info.value)
    assert "did you mean 'WeightedMSECriterion'" in str(info.value)


def test_unknown_type_without_close_match_lists_types():
    with pytest.raises(ConfigError) as info:
        BACKBONES.build(dict(type="Xyzzy"))
    message = str(info.value)
    assert "BACKBONES" in message and "'Xyzzy'" in message and "did you mean" not in message
    for name in BACKBONES.names():
        assert name in message


@pytest.mark.parametrize(
    ("build", "bad_key", "good_key"),
    [
        (lambda: TARGET_GENERATORS.build(dict(type="HeatmapGaussianGenerator", num_heatmap=17)),
         "num_heatmap", "num_heatmaps"),
        (lambda: PREDICTORS.build(dict(type="HeatmapPredictor", locref_sdt=7.2)), "locref_sdt", "locref_std"),
        (lambda: HEADS.build(head_cfg(predictor=dict(type="HeatmapPredictor", locref_sdt=7.2))),
         "locref_sdt", "locref_std"),
        (lambda: HEADS.build(head_cfg(heatmap_config=dict(num_input_channels=256, num_output_channels=17,
                                                          num_deconv_layer=1))),
         "num_deconv_layer", "num_deconv_layers"),
        (lambda: HEADS.build(head_cfg(heatmap_cfg=dict(num_input_channels=256))), "heatmap_cfg", "heatmap_config"),
        (lambda: BACKBONES.build(dict(type="HRNet", varient="w18")), "varient", "variant"),
    ],
    ids=["generator-num_heatmap", "predictor-locref_sdt", "nested-locref_sdt", "heatmap_config-key",
         "head-key", "backbone-key"],
)
def test_misspelled_key_raises_did_you_mean(build, bad_key, good_key):
    with pytest.raises(ConfigError) as info:
        build()
    message = str(info.value)
    assert repr(bad_key) in message
    assert f"did you mean {good_key!r}" in message


def test_misspelled_key_error_names_registry_and_type():
    with pytest.raises(ConfigError) as info:
        TARGET_GENERATORS.build(dict(type="HeatmapGaussianGenerator", num_heatmap=17))
    assert "TARGET_GENERATORS" in str(info.value) and "HeatmapGaussianGenerator" in str(info.value)


def test_missing_type_and_non_dict_raise_config_error():
    with pytest.raises(ConfigError, match="no 'type' key"):
        CRITERIONS.build(dict(delta=1.0))
    with pytest.raises(ConfigError, match="CRITERIONS"):
        CRITERIONS.build("WeightedMSECriterion")


def test_constructor_error_keeps_type_and_notes_the_config():
    with pytest.raises(ValueError) as info:
        CRITERIONS.build(dict(type="WeightedHuberCriterion", delta=-1.0))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "CRITERIONS" in notes and "WeightedHuberCriterion" in notes


def test_did_you_mean_helper():
    assert did_you_mean("HeatmapHed", ["HeatmapHead", "DEKRHead"]) == "; did you mean 'HeatmapHead'?"
    assert did_you_mean("zzz", ["HeatmapHead"]) == ""
    assert did_you_mean("optimiser", ["optimizer", "compile"]) == "; did you mean 'optimizer'?"  # not a 0.5 match
    assert did_you_mean("HeatmapHed", ["HeatmapHead", "HeatmapHeads"]) == "; did you mean 'HeatmapHead' or 'HeatmapHeads'?"


# --- registering ----------------------------------------------------------------------------------


class _Base:
    """Test base class."""


def test_register_rejects_non_subclasses_and_duplicates(private_registries):
    reg = Registry("TEST_PARTS", _Base)

    @reg.register
    class Part(_Base):
        """A part."""

        def __init__(self, size: int = 1) -> None:
            self.size = size

    assert reg.names() == ["Part"]
    assert reg.build(dict(type="Part", size=3)).size == 3
    with pytest.raises(TypeError, match="TEST_PARTS"):
        reg.register(int)
    with pytest.raises(KeyError, match="Part"):
        reg.register(type("Part", (_Base,), {}))


def test_nested_build_routes_by_annotation(private_registries):
    inner_reg = Registry("TEST_INNER", _Base)
    outer_reg = Registry("TEST_OUTER", torch.nn.Module)

    @inner_reg.register
    class Inner(_Base):
        """Inner part."""

        def __init__(self, value: float = 0.0) -> None:
            self.value = value

    @outer_reg.register
    class Outer(torch.nn.Module):
        """Outer part holding an inner one."""

        def __init__(self, inner: _Base | None = None, options: dict[str, int] | None = None) -> None:
            super().__init__()
            self.inner = inner
            self.options = options

    cfg = dict(type="Outer", inner=dict(type="Inner", value=2.0), options=dict(a=1))
    before = copy.deepcopy(cfg)
    built = outer_reg.build(cfg)
    assert isinstance(built.inner, Inner) and built.inner.value == 2.0
    assert built.options == {"a": 1}
    assert cfg == before
    with pytest.raises(ConfigError, match="TEST_INNER.*did you mean 'value'"):
        outer_reg.build(dict(type="Outer", inner=dict(type="Inner", valeu=2.0)))
