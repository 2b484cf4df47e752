"""Lightning callback that writes ``trainer.predict`` results as DeepLabCut tables and a figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from lightning_pose_arch.inference.plots import plot_predictions
from lightning_pose_arch.inference.tables import crops_to_frames, fit_individuals, predictions_to_table, write_predictions


class PredictionWriter(BasePredictionWriter):
    """At the end of ``predict``, write ``<output_dir>/predictions.{h5,csv}`` and ``predictions.png``.

    ``lpa`` adds this callback by default, writing to ``<trainer log dir>/predictions``.

    Keypoints are in the image files' pixels; the table follows DeepLabCut's
    layout, so DeepLabCut tools read it. Crop-mode predictions (one per
    individual) are gathered back into one row per frame.

    Args:
        output_dir: Folder for the outputs (created if missing); default ``<trainer log dir>/predictions``.
        scorer: Scorer name in the table header.
        pcutoff: Likelihood under which keypoints are not drawn.
    """

    def __init__(self, output_dir: str | Path | None = None, scorer: str = "lightning_pose_arch", pcutoff: float = 0.4) -> None:
        super().__init__(write_interval="epoch")
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.scorer = scorer
        self.pcutoff = pcutoff
        self.written: list[Path] = []

    def write_on_epoch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, predictions: list[Any], batch_indices: Any
    ) -> None:
        batches = predictions[0] if predictions and isinstance(predictions[0], list) else predictions
        keypoints = torch.cat([b["keypoints"] for b in batches]).cpu().numpy().astype(np.float64)
        image_paths = [path for b in batches for path in b["image_path"]]
        info = pl_module.dataset_info
        if batches and "individual" in batches[0]:  # crop mode: one row per individual's crop
            individuals = torch.cat([b["individual"] for b in batches]).cpu().numpy()
            image_paths, keypoints = crops_to_frames(keypoints, image_paths, individuals, len(info["individuals"]))
        keypoints = fit_individuals(keypoints, len(info["individuals"]))
        unique = torch.cat([b["unique_keypoints"] for b in batches]).cpu().numpy() \
            if batches and "unique_keypoints" in batches[0] else None
        table = predictions_to_table(keypoints, image_paths, info["bodyparts"], info["individuals"], self.scorer,
                                     unique, info.get("unique_bodyparts") or ())
        output_dir = self.output_dir or Path(trainer.log_dir or trainer.default_root_dir) / "predictions"
        self.written = write_predictions(table, output_dir / "predictions")
        project = trainer.datamodule.project
        row = {path: i for i, path in enumerate(project.image_paths)}
        labels = project.keypoints[[row[path] for path in image_paths]] if all(p in row for p in image_paths) else None
        self.written.append(plot_predictions(Path(project.root), image_paths, keypoints, info["bodyparts"],
                                             output_dir / "predictions.png", pcutoff=self.pcutoff, labels=labels))
