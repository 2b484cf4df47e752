"""``lpa fit`` killed mid-epoch resumes with ``--ckpt_path last`` and ends where an uninterrupted run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from helpers import heatmap_model_cfg
from lightning_pose_arch.cli import run

EPOCHS, STEPS_PER_EPOCH = 3, 5  # 9 training frames, batches of 2
SAVE_EVERY = 2


def write_config(path: Path, project: Path, root: Path) -> Path:
    config = {
        "seed_everything": 0,
        "trainer": {
            "max_epochs": EPOCHS, "accelerator": "cpu", "default_root_dir": str(root), "log_every_n_steps": 1,
            "enable_progress_bar": False, "enable_model_summary": False, "limit_val_batches": 1,
            "num_sanity_val_steps": 0,
            "callbacks": [{"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                           "init_args": {"every_n_train_steps": SAVE_EVERY, "save_last": True,
                                         "filename": "step-{step}"}}],
        },
        "model": {"cfg": {"model": heatmap_model_cfg(), "optimizer": {"type": "AdamW", "lr": 1e-3}}},
        "data": {"project_dir": str(project), "image_size": [64, 96], "batch_size": 2, "num_workers": 0,
                 "train_fraction": 0.75, "val_fraction": 0.25},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def kill_once_a_checkpoint_exists(config: Path, last: Path, timeout_s: float = 240.0) -> None:
    command = [sys.executable, "-m", "lightning_pose_arch.cli", "fit", "--config", str(config)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + timeout_s
    while not last.is_file():
        if process.poll() is not None:
            raise AssertionError(f"lpa fit ended before its first checkpoint:\n{process.stderr.read().decode()[-3000:]}")
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()


def saved_state(checkpoint: Path) -> tuple[int, int]:
    contents = torch.load(checkpoint, weights_only=True)  # CLI checkpoints hold only plain data
    return contents["global_step"], contents["epoch"]


def test_killed_fit_resumes_to_the_same_end(synthetic_project: Path, tmp_path: Path) -> None:
    reference = write_config(tmp_path / "reference.yaml", synthetic_project, tmp_path / "reference")
    trainer = run(["fit", "--config", str(reference)]).trainer
    expected = (trainer.global_step, trainer.current_epoch)
    assert expected == (EPOCHS * STEPS_PER_EPOCH, EPOCHS)
    expected_saved = saved_state(tmp_path / "reference/lightning_logs/version_0/checkpoints/last.ckpt")

    config = write_config(tmp_path / "interrupted.yaml", synthetic_project, tmp_path / "run")
    first = tmp_path / "run/lightning_logs/version_0"
    kill_once_a_checkpoint_exists(config, first / "checkpoints/last.ckpt")
    killed_step, killed_epoch = saved_state(first / "checkpoints/last.ckpt")
    assert killed_step < STEPS_PER_EPOCH and killed_epoch == 0  # killed mid-way through the first epoch
    assert [p.name for p in (first / "checkpoints").iterdir() if p.suffix != ".ckpt"] == []  # no partial files

    trainer = run(["fit", "--config", str(config), "--ckpt_path", "last"]).trainer
    assert (trainer.global_step, trainer.current_epoch) == expected
    resumed = tmp_path / "run/lightning_logs/version_1"
    assert saved_state(resumed / "checkpoints/last.ckpt") == expected_saved
    logged_steps = pd.read_csv(resumed / "metrics.csv")["step"]
    assert logged_steps.min() >= killed_step  # it continued; it did not start over
