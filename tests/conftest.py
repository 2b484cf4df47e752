"""Shared fixtures: synthetic projects the package generates, and the real openfield project."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

from helpers import OPENFIELD  # noqa: E402
from lightning_pose_arch.data.synthetic import make_synthetic_project  # noqa: E402


@pytest.fixture(scope="session")
def synthetic_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 frames, 96×128, 4 bodyparts, some keypoints unlabeled; labels as CSV."""
    return make_synthetic_project(tmp_path_factory.mktemp("synthetic"), num_frames=16, missing_fraction=0.1)


@pytest.fixture(scope="session")
def openfield() -> Path:
    if not OPENFIELD.is_dir():
        pytest.fail(f"the openfield project is expected at {OPENFIELD} (../shared beside the repository)")
    return OPENFIELD
