"""The installed ``lpa`` console script exits 0 on success and non-zero on failure (shell ``&&`` chains work)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO, heatmap_model_cfg

LPA = Path(sys.executable).parent / "lpa"  # the script pip generated: `sys.exit(main())`


def run_lpa(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_ALBUMENTATIONS_UPDATE": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(LPA), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def tiny_recipe(path: Path, project: Path, root: Path) -> Path:
    recipe = {
        "model": {"cfg": {"model": heatmap_model_cfg(num_deconv_layers=1, deconv_channels=16)}},
        "data": {"project_dir": str(project), "image_size": [64, 96], "num_workers": 0, "batch_size": 4},
        "trainer": {"max_steps": 2, "limit_val_batches": 1, "enable_progress_bar": False, "default_root_dir": str(root)},
    }
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.slow
def test_fit_two_steps_exits_zero(synthetic_project: Path, tmp_path: Path) -> None:
    assert LPA.is_file(), f"the lpa console script is not installed beside {sys.executable}"
    recipe = tiny_recipe(tmp_path / "tiny.yaml", synthetic_project, tmp_path / "runs")
    result = run_lpa("fit", "--config", str(recipe), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "PoseCLI object" not in result.stderr
    assert (tmp_path / "runs" / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow
def test_failing_fit_exits_non_zero(synthetic_project: Path, tmp_path: Path) -> None:
    recipe = tiny_recipe(tmp_path / "tiny.yaml", tmp_path / "no_such_project", tmp_path / "runs")
    result = run_lpa("fit", "--config", str(recipe), cwd=tmp_path)
    assert result.returncode != 0
    assert "no_such_project" in result.stderr


def test_failing_inference_command_exits_non_zero(tmp_path: Path) -> None:
    result = run_lpa("analyze", "--checkpoint", str(tmp_path / "missing.ckpt"), str(tmp_path / "missing.mp4"),
                     cwd=tmp_path)
    assert result.returncode != 0
    assert "missing.mp4" in result.stderr


@pytest.mark.parametrize("command", ["analyze", "track"])
def test_bad_tracker_is_a_usage_error(command: str, tmp_path: Path) -> None:
    inputs = ["--checkpoint", "missing.ckpt", "video.mp4"] if command == "analyze" else ["video_detections.h5"]
    result = run_lpa(command, *inputs, "--tracker", "{type: KalmanTracker, max_gap: 0}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]  # argparse's exit code for bad arguments
    assert "argument --tracker" in result.stderr and "max_gap" in result.stderr
    assert "Traceback" not in result.stderr
