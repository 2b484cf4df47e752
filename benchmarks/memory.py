"""Benchmark: peak memory (RSS) of one training epoch vs dataset size.

``PoseDataModule`` decodes each image when its item is loaded and keeps no decoded image, so
the memory of a training epoch should not grow with the number of labeled frames. This runs one
epoch of a tiny model (CSPNeXt-S, input 64×96, batches of 8, no DataLoader workers) on two
synthetic projects of different sizes, each in a fresh subprocess, and compares the peak RSS
each reports (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) with what holding the decoded
frames would cost.

Run: ``python benchmarks/memory.py [--frames 32 256] [--frame-size 240 320]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

MB = 1024 * 1024


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def child(project: Path) -> None:
    """One training epoch on ``project``; print peak RSS before and after it as JSON."""
    import lightning as L

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers import heatmap_model_cfg
    from lightning_pose_arch.data.datamodule import PoseDataModule
    from lightning_pose_arch.lit.module import PoseLitModule

    L.seed_everything(0, verbose=False)
    datamodule = PoseDataModule(project, image_size=(64, 96), batch_size=8, num_workers=0,
                                train_fraction=1.0, val_fraction=0.0)
    module = PoseLitModule({"model": heatmap_model_cfg()}, dataset_info=datamodule.dataset_info())
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    before = peak_rss_mb()
    trainer.fit(module, datamodule)
    print(json.dumps({"frames": len(datamodule.split["train"]), "steps": trainer.global_step,
                      "peak_before_mb": before, "peak_mb": peak_rss_mb()}))


def measure(project: Path) -> dict:
    command = [sys.executable, __file__, "--child", str(project)]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs=2, default=[32, 256], help="the two dataset sizes")
    parser.add_argument("--frame-size", type=int, nargs=2, default=[240, 320], help="frame height, width on disk")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child is not None:
        child(options.child)
        return
    from lightning_pose_arch.data.synthetic import make_synthetic_project

    height, width = options.frame_size
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in options.frames:
            project = make_synthetic_project(Path(tmp) / f"p{count}", num_frames=count, image_size=(height, width))
            rows.append({**measure(project), "decoded_mb": count * height * width * 3 / MB})
    print(f"one training epoch, CSPNeXt-S at 64x96, batch 8, frames of {height}x{width} on disk\n")
    print(f"{'frames':>7} {'steps':>6} {'decoded frames':>15} {'peak RSS':>10} {'growth during epoch':>20}")
    for row in rows:
        print(f"{row['frames']:>7} {row['steps']:>6} {row['decoded_mb']:>12.1f} MB {row['peak_mb']:>7.0f} MB "
              f"{row['peak_mb'] - row['peak_before_mb']:>17.1f} MB")
    small, large = rows
    print(f"\ndataset size ratio {large['frames'] / small['frames']:.1f}x; "
          f"peak RSS ratio {large['peak_mb'] / small['peak_mb']:.3f}x; "
          f"peak RSS difference {large['peak_mb'] - small['peak_mb']:+.1f} MB "
          f"(holding the extra decoded frames would add {large['decoded_mb'] - small['decoded_mb']:.1f} MB)")


if __name__ == "__main__":
    main()
