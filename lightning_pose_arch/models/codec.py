"""Codec parameters: what a head's target generator (encode) and predictor (decode) must share.

A head passes its stride to both at every call, so they cannot disagree on
it. The other shared numbers (locref scale, whether locref is used, SimCC
bins per pixel) are constructor arguments of both parts; a head pairs them
once, when built, with :func:`pair_codec`: a value set explicitly on one
side (or on the head) is given to the other, and two explicit values that
differ are refused with both named. Generators and predictors take
``None`` for "not set here" and record which codec values they were given
in ``_codec_given`` (:func:`given_names`); a part that does not is taken
as having set every codec attribute it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from lightning_pose_arch.registry import ConfigError

DEFAULT_LOCREF_STD = 7.2801
"""DeepLabCut's location-refinement scale: locref maps hold offsets divided by it."""
DEFAULT_LOCATION_REFINEMENT = True
DEFAULT_SPLIT_RATIO = 2.0
"""SimCC bins per input pixel (RTMPose's)."""


class SharedParameter(NamedTuple):
    """One codec parameter: its attribute name on the target generator and on the predictor."""

    generator: str
    predictor: str


HEATMAP_CODEC = {
    "locref_std": SharedParameter("locref_std", "locref_std"),
    "location_refinement": SharedParameter("generate_locref", "location_refinement"),
}
"""Heatmap + locref codec (HeatmapHead, PAFHead)."""
SIMCC_CODEC = {"split_ratio": SharedParameter("split_ratio", "split_ratio")}
"""SimCC codec (RTMCCHead); the head's ``simcc_split_ratio`` takes part too."""


def given_names(**values: Any) -> frozenset[str]:
    """Names of the codec arguments a constructor was given (not ``None``), for ``_codec_given``."""
    return frozenset(name for name, value in values.items() if value is not None)


def pair_codec(
    head: str,
    generator: object,
    predictor: object,
    parameters: Mapping[str, SharedParameter],
    head_values: Mapping[str, tuple[str, Any]] | None = None,
) -> dict[str, Any]:
    """Give ``generator`` and ``predictor`` one value per shared parameter; return ``{name: value}``.

    Per parameter, the explicit values must agree: each part's, and the
    head's (``head_values``: ``{name: (head argument, value or None)}``).
    That value is set on both parts. With none explicit, the parts' defaults
    must agree and stay. A part without the attribute takes no part
    (``None`` is returned when neither has it and the head sets none).

    Raises:
        ConfigError: naming ``head``, the parameter and every explicit value, when they differ.
    """
    resolved = {}
    for name, shared in parameters.items():
        sides = [(part, attr) for part, attr in ((generator, shared.generator), (predictor, shared.predictor))
                 if hasattr(part, attr)]
        # (where, value, explicit) per place the parameter is set
        values = [(f"{type(part).__name__}.{attr}", getattr(part, attr), attr in getattr(part, "_codec_given", (attr,)))
                  for part, attr in sides]
        argument, head_value = (head_values or {}).get(name, (name, None))
        if head_value is not None:
            values.insert(0, (f"{head}.{argument}", head_value, True))
        candidates = [(where, value) for where, value, explicit in values if explicit] or \
            [(where, value) for where, value, _ in values]
        if len({value for _, value in candidates}) > 1:
            listed = ", ".join(f"{where}={value!r}" for where, value in candidates)
            raise ConfigError(f"{head}: its target generator and predictor must share {name}, got {listed}; "
                              "set it in one place and the others take it")
        value = candidates[0][1] if candidates else None
        for part, attr in sides:
            setattr(part, attr, value)
        resolved[name] = value
    return resolved
