"""The field's readers open our prediction tables as they are: ``movement`` (DeepLabCut loader)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from movement.io import load_poses

from lightning_pose_arch.inference.tables import predictions_to_table, write_predictions

FRAMES, BODYPARTS = 6, ["snout", "leftear", "tailbase"]


@pytest.mark.parametrize("suffix", [".h5", ".csv"])
@pytest.mark.parametrize("individuals", [["single animal"], ["mouse1", "mouse2"]], ids=["single", "multi"])
def test_movement_reads_our_tables_with_the_same_values(tmp_path: Path, suffix: str, individuals: list[str]) -> None:
    values = np.random.default_rng(0).uniform(0, 640, (FRAMES, len(individuals), len(BODYPARTS), 3))
    values[..., 2] /= 640  # likelihood in [0, 1]
    values[3, 0, 1] = [np.nan, np.nan, 0.0]  # not found
    table = predictions_to_table(values, list(range(FRAMES)), BODYPARTS, individuals, "DLC_LpaCSPNeXts_x")
    path = next(p for p in write_predictions(table, tmp_path / "videoDLC_LpaCSPNeXts_x") if p.suffix == suffix)
    poses = load_poses.from_dlc_file(path, fps=30)
    assert poses.position.dims == ("time", "space", "keypoints", "individuals")
    assert list(poses.keypoints.values) == BODYPARTS
    expected_names = ["individual_0"] if individuals == ["single animal"] else individuals  # movement's name for one
    assert list(poses.individuals.values) == expected_names
    np.testing.assert_allclose(poses.position.values, values[..., :2].transpose(0, 3, 2, 1), rtol=0, atol=1e-9)
    np.testing.assert_allclose(poses.confidence.values, values[..., 2].transpose(0, 2, 1), rtol=0, atol=1e-9)
    np.testing.assert_allclose(poses.time.values, np.arange(FRAMES) / 30)
