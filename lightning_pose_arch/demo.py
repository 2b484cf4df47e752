"""``lpa demo``: train briefly on the bundled example project, predict the test frames, plot them."""

from __future__ import annotations

import argparse
import time
from importlib import resources
from pathlib import Path

import lightning as L
import yaml

from lightning_pose_arch.cli import default_checkpoint
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.inference.writer import PredictionWriter
from lightning_pose_arch.lit.module import PoseLitModule

ASSETS = resources.files("lightning_pose_arch") / "assets"


def example_project() -> Path:
    """Path of the bundled example DeepLabCut project (compact openfield copy)."""
    return Path(str(ASSETS / "openfield"))


def demo_config() -> dict:
    """The demo's model/optimizer configuration (``assets/configs/demo.yaml``)."""
    return yaml.safe_load((ASSETS / "configs" / "demo.yaml").read_text())


def main(args: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="lpa demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("lpa_demo"), help="output folder (default: lpa_demo)")
    parser.add_argument("--epochs", type=int, default=8, help="training epochs (default: 8)")
    parser.add_argument("--project-dir", type=Path, default=None, help="DeepLabCut project (default: bundled example)")
    options = parser.parse_args(args)
    started = time.perf_counter()
    datamodule = PoseDataModule(options.project_dir or example_project(), image_size=(256, 320),
                                batch_size=8, num_workers=2, split_file=options.out / "split.json")
    trainer = L.Trainer(max_epochs=options.epochs, default_root_dir=options.out, accelerator="auto",
                        callbacks=[default_checkpoint(), PredictionWriter(options.out)], log_every_n_steps=5)
    trainer.fit(PoseLitModule(demo_config()), datamodule)
    metrics = trainer.test(datamodule=datamodule, ckpt_path="best")[0]
    trainer.predict(datamodule=datamodule, ckpt_path="best", return_predictions=False)
    print(f"\nlpa demo finished in {time.perf_counter() - started:.0f} s")
    print(f"  checkpoint:  {trainer.checkpoint_callback.best_model_path}")
    for path in _writer(trainer).written:
        print(f"  wrote:       {path}")
    print(f"  test mean pixel error {metrics['test/mean_pixel_error']:.1f} px, PCK@5px {metrics['test/pck']:.2f}")
    return metrics


def _writer(trainer: L.Trainer) -> PredictionWriter:
    return next(cb for cb in trainer.callbacks if isinstance(cb, PredictionWriter))
