"""ONNX export needs the ``export`` extra and says so (NWB the ``nwb`` extra); TorchScript needs nothing more."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lightning_pose_arch.cli import main
from lightning_pose_arch.inference.runner import load_module


@pytest.mark.parametrize("package", ["onnx", "onnxruntime"])
def test_missing_onnx_names_the_extra_before_loading(package: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # as if not installed: import raises ImportError
    with pytest.raises(ImportError, match=rf"needs the '{package}' package: pip install 'lightning_pose_arch\[export\]'"):
        main(["export", "--checkpoint", str(tmp_path / "never_read.ckpt"), "--format", "onnx"])


@pytest.mark.parametrize("package", ["pynwb", "ndx_pose"])
def test_missing_nwb_package_names_the_extra(package: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(ImportError, match=rf"NWB export needs the '{package}' package: pip install "
                                          r"'lightning_pose_arch\[nwb\]'$"):
        main(["export-nwb", str(tmp_path / "never_read.h5"), "--video", str(tmp_path / "v.mp4")])


def test_torchscript_export_works_without_onnx(checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    load_module(checkpoint, "cpu")  # imported before onnx is hidden, like a plain install
    monkeypatch.setitem(sys.modules, "onnx", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    main(["export", "--checkpoint", str(checkpoint), "--format", "torchscript", "--out", str(tmp_path / "m.pt")])
    assert (tmp_path / "m.pt").is_file() and "max |Δ|" in capsys.readouterr().out
