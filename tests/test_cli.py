"""Every recipe in experiments/ runs as written through ``lpa`` (a few batches on openfield)."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import REPO
from lightning_pose_arch.cli import main, run

EXPERIMENTS = sorted((REPO / "experiments").glob("*.yaml"))
PROJECTS = ("../shared/data/openfield-Pranav-2018-10-30", "lightning_pose_arch/assets/synthetic_multi")


def test_there_are_recipes() -> None:
    names = {p.stem for p in EXPERIMENTS}
    assert {"openfield_resnet50_heatmap", "openfield_hrnet_w32_heatmap", "openfield_cspnext_m_heatmap"} <= names


@pytest.mark.parametrize("recipe", EXPERIMENTS, ids=lambda p: p.stem)
def test_recipe_fits_a_few_batches(recipe: Path, openfield: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # recipes name the project relative to the repository root
    config = yaml.safe_load(recipe.read_text())
    assert config["data"]["project_dir"] in PROJECTS
    is_detector = "detector" in config["model"]["cfg"]
    cli = run([
        *(["detector"] if is_detector else []), "fit", "--config", str(recipe),
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
        "--trainer.limit_val_batches", "1", "--trainer.default_root_dir", str(tmp_path),
        "--trainer.enable_progress_bar", "false", "--data.num_workers", "0", "--data.batch_size", "2",
        "--data.image_size", "[128, 160]",  # smaller frames: this checks the recipe runs, not its accuracy
    ])
    version = tmp_path / "lightning_logs" / "version_0"
    assert (version / "checkpoints" / "last.ckpt").is_file()
    assert (version / "split.json").is_file()
    metrics = pd.read_csv(version / "metrics.csv")
    best_by = "val/map" if is_detector or "multi" in recipe.stem else "val/mean_pixel_error"
    assert cli.trainer.checkpoint_callback.monitor == best_by
    assert metrics[best_by].notna().any()


def test_predict_writes_dlc_tables_and_plot(openfield: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    recipe = REPO / "experiments" / "openfield_cspnext_m_heatmap.yaml"
    common = ["--config", str(recipe), "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false",
              "--data.num_workers", "0", "--data.batch_size", "2", "--data.image_size", "[128, 160]"]
    main(["fit", *common, "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.limit_val_batches", "1"])
    checkpoint = tmp_path / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    main(["predict", *common, "--ckpt_path", str(checkpoint)])
    out = tmp_path / "lightning_logs" / "version_1" / "predictions"
    table = pd.read_hdf(out / "predictions.h5")
    assert list(table.columns.names) == ["scorer", "bodyparts", "coords"]
    assert table.shape == (6, 12)  # the 6 test frames, 4 bodyparts × (x, y, likelihood)
    assert (out / "predictions.png").stat().st_size > 10_000
    pd.testing.assert_frame_equal(pd.read_csv(out / "predictions.csv", header=[0, 1, 2], index_col=0), table)
