"""The top-level API: documented names, imported lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import lightning_pose_arch
from helpers import REPO


@pytest.mark.parametrize("name", sorted(lightning_pose_arch._EXPORTS))
def test_top_level_name_is_the_defining_modules_object(name: str) -> None:
    module = __import__(lightning_pose_arch._EXPORTS[name], fromlist=[name])
    assert getattr(lightning_pose_arch, name) is getattr(module, name)
    assert name in dir(lightning_pose_arch)


def test_user_imports_from_the_issue() -> None:
    from lightning_pose_arch import BACKBONES, PoseDataModule, PoseLitModule, PoseModel, analyze

    assert PoseLitModule.__name__ == "PoseLitModule" and PoseDataModule.__name__ == "PoseDataModule"
    assert PoseModel.__name__ == "PoseModel" and callable(analyze)
    assert "ResNet" in BACKBONES.names()


def test_unknown_name_lists_the_public_ones() -> None:
    with pytest.raises(AttributeError, match="PoseLitModule"):
        lightning_pose_arch.PoseLitModul  # noqa: B018


def test_import_does_not_load_torch() -> None:
    code = "import sys, lightning_pose_arch; print(sorted({'torch', 'lightning'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert out.stdout.strip() == "[]"
