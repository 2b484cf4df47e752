"""``lpa demo``: train briefly on the bundled example project, predict the test frames, plot them."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import lightning as L

from lightning_pose_arch.cli import default_checkpoint
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.inference.writer import PredictionWriter
from lightning_pose_arch.lit.checkpoints import AtomicCheckpointIO
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.yaml_files import load_yaml

ASSETS = resources.files("lightning_pose_arch") / "assets"
DEMO_IMAGE_SIZE = (128, 160)


def example_project() -> Path:
    """Path of the bundled example DeepLabCut project (compact openfield copy)."""
    return Path(str(ASSETS / "openfield"))


def example_video() -> Path:
    """Path of the bundled 120-frame openfield clip."""
    return example_project() / "videos" / "m3v1_clip.mp4"


def demo_config(epochs: int) -> dict:
    """The demo's configuration (``assets/configs/demo.yaml``) with a cosine LR schedule over ``epochs``."""
    cfg = load_yaml(Path(str(ASSETS / "configs" / "demo.yaml")))
    cfg["scheduler"] = {"type": "CosineAnnealingLR", "T_max": epochs, "eta_min": 1e-5, "interval": "epoch"}
    return cfg


@dataclass(frozen=True)
class DemoResult:
    """What ``run_demo`` produced: the best checkpoint, the files written and the test metrics."""

    checkpoint: Path
    files: list[Path]
    metrics: dict[str, float]


def run_demo(
    out: Path, epochs: int = 30, project_dir: Path | None = None, limit_batches: int | None = None, seed: int = 0
) -> DemoResult:
    """Train the demo model on ``project_dir`` (default: the bundled example), test it, predict the test frames.

    Args:
        out: Output folder (checkpoints, logs, split, predictions.{h5,csv,png}).
        epochs: Training epochs.
        project_dir: DeepLabCut project.
        limit_batches: Train on at most this many batches per epoch (quick runs).
        seed: Seeds weights, augmentation and shuffling.
    """
    L.seed_everything(seed, verbose=False)
    datamodule = PoseDataModule(project_dir or example_project(), image_size=DEMO_IMAGE_SIZE,
                                batch_size=4, num_workers=2, split_file=out / "split.json")
    writer = PredictionWriter(out)
    trainer = L.Trainer(max_epochs=epochs, default_root_dir=out, accelerator="auto", log_every_n_steps=5,
                        limit_train_batches=limit_batches, callbacks=[default_checkpoint(), writer],
                        plugins=[AtomicCheckpointIO()])
    trainer.fit(PoseLitModule(demo_config(epochs)), datamodule)
    metrics = trainer.test(datamodule=datamodule, ckpt_path="best")[0]
    trainer.predict(datamodule=datamodule, ckpt_path="best", return_predictions=False)
    return DemoResult(Path(trainer.checkpoint_callback.best_model_path), writer.written, metrics)


def main(args: list[str] | None = None) -> DemoResult:
    parser = argparse.ArgumentParser(prog="lpa demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("lpa_demo"), help="output folder (default: lpa_demo)")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default: 30)")
    parser.add_argument("--project-dir", type=Path, default=None, help="DeepLabCut project (default: bundled example)")
    options = parser.parse_args(args)
    started = time.perf_counter()
    result = run_demo(options.out, options.epochs, options.project_dir)
    print(f"\nlpa demo finished in {time.perf_counter() - started:.0f} s")
    print(f"  checkpoint:  {result.checkpoint}")
    for path in result.files:
        print(f"  wrote:       {path}")
    print(f"  test mean pixel error {result.metrics['test/mean_pixel_error']:.1f} px, "
          f"PCK@5px {result.metrics['test/pck']:.2f}")
    return result
