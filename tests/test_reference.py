"""The generated config reference lists every registered type and the committed copy is current."""

import inspect

import pytest

from helpers import REPO
from lightning_pose_arch.reference import ALL_REGISTRIES, describe, reference_markdown
from lightning_pose_arch.models.heads import HeatmapHead


def test_every_registered_type_is_documented() -> None:
    text = reference_markdown()
    for registry in ALL_REGISTRIES:
        assert f"## `{registry.name}`" in text
        for name in registry.names():
            assert f"### `{name}`" in text


def test_arguments_types_and_defaults_are_listed() -> None:
    section = describe(HeatmapHead)
    assert "- `heatmap_config`: `dict[str, int]`, required" in section
    assert "- `aggregator`: `BaseAggregator | None`, default `None`" in section
    assert inspect.cleandoc(HeatmapHead.__doc__).splitlines()[0] in section


def test_committed_reference_is_current() -> None:
    committed = (REPO / "docs" / "config_reference.md").read_text()
    if committed != reference_markdown():
        pytest.fail("docs/config_reference.md is stale: run `lpa registry --out docs/config_reference.md`")
