"""A round-trip check shared by the format tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import numpy as np
import pytest

from lightning_pose_arch.data.formats import LabeledData


def _assert_same_labels(first: LabeledData, second: LabeledData, ignore: tuple[str, ...] = ("root",)) -> None:
    """Every field equal (arrays exactly, dtype included) except those in ``ignore``."""
    for field in fields(LabeledData):
        if field.name in ignore:
            continue
        a, b = getattr(first, field.name), getattr(second, field.name)
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            assert a is not None and b is not None, field.name
            assert a.dtype == b.dtype, field.name
            np.testing.assert_array_equal(a, b, err_msg=field.name)
        else:
            assert a == b, field.name


@pytest.fixture
def assert_same_labels() -> Callable[..., None]:
    return _assert_same_labels
