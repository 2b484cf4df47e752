"""DDP on CPU: validation metrics reduced over 2 processes, and the predictions written, equal one process's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import pandas as pd
import pytest

from distributed_run import DATA
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.inference.writer import PredictionWriter
from lightning_pose_arch.lit.module import PoseLitModule

SCRIPT = Path(__file__).parent / "distributed_run.py"
TIMEOUT_S = 300


def test_ddp_validation_and_predictions_match_one_process(synthetic_project: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "MASTER_ADDR": "127.0.0.1"}
    run = subprocess.Popen([sys.executable, str(SCRIPT), str(synthetic_project), str(tmp_path)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = run.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)  # both ranks: a hung collective never returns
        _, stderr = run.communicate()
        pytest.fail(f"DDP run did not finish in {TIMEOUT_S} s (deadlock?):\n{stderr[-4000:]}")
    assert run.returncode == 0, stderr[-4000:]
    ddp = json.loads((tmp_path / "metrics.json").read_text())
    assert ddp.pop("world_size") == 2

    datamodule = PoseDataModule(synthetic_project, **DATA)
    assert len(datamodule.split["val"]) == 4
    module = PoseLitModule.load_from_checkpoint(tmp_path / "ddp.ckpt")
    writer = PredictionWriter(tmp_path / "single_predictions")
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, callbacks=[writer])
    single = trainer.validate(module, datamodule, verbose=False)[0]
    assert set(single) == set(ddp) >= {"val/mean_pixel_error", "val/rmse", "val/pck", "val/loss"}
    print(json.dumps({"devices=2": ddp, "devices=1": single}, indent=1))  # shown with -s
    for name, value in single.items():
        assert ddp[name] == pytest.approx(value, rel=1e-5, abs=1e-7), name

    # both ranks' frames, each once, in the order one process writes them (before: one rank's half)
    trainer.predict(module, datamodule, return_predictions=False)
    single_table = pd.read_hdf(writer.written[0])
    ddp_table = pd.read_hdf(tmp_path / "ddp_predictions" / "predictions.h5")
    assert len(single_table) == len(datamodule.project.image_paths) == 16
    assert ddp_table.index.is_unique
    pd.testing.assert_frame_equal(ddp_table, single_table, rtol=1e-5, atol=1e-4)
