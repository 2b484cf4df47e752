"""Fit and validate with DDP on CPU (2 processes, gloo); run as a script by tests/test_distributed.py.

``python tests/distributed_run.py PROJECT OUT``: rank 0 writes ``OUT/ddp.ckpt`` (the weights after
fitting) and ``OUT/metrics.json`` (the validation metrics of those weights, reduced over both ranks);
then both ranks predict every frame, and the PredictionWriter writes ``OUT/ddp_predictions``.
Lightning's DDP launcher starts the second process by re-running this script.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning as L

sys.path.insert(0, str(Path(__file__).parent))
from helpers import heatmap_model_cfg  # noqa: E402
from lightning_pose_arch.data.datamodule import PoseDataModule  # noqa: E402
from lightning_pose_arch.inference.writer import PredictionWriter  # noqa: E402
from lightning_pose_arch.lit.module import PoseLitModule  # noqa: E402

# 16 frames: 12 train, 4 val (2 per process, so DistributedSampler pads nothing); batches of 1 for
# validation, so the per-batch loss means average to the same number on 1 or 2 processes.
DATA = dict(image_size=(64, 96), batch_size=2, eval_batch_size=1, num_workers=0, train_fraction=1.0, val_fraction=0.25,
            predict_split="all")


def main(project: Path, out: Path) -> None:
    L.seed_everything(0)
    datamodule = PoseDataModule(project, **DATA)
    module = PoseLitModule({"model": heatmap_model_cfg()})
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_steps=2, num_sanity_val_steps=0,
                        default_root_dir=out, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[PredictionWriter(out / "ddp_predictions")])
    trainer.fit(module, datamodule)
    trainer.save_checkpoint(out / "ddp.ckpt")
    metrics = trainer.validate(module, datamodule, verbose=False)[0]
    if trainer.global_rank == 0:
        (out / "metrics.json").write_text(json.dumps({**metrics, "world_size": trainer.world_size}))
    trainer.predict(module, datamodule, return_predictions=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
