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
    individual) are gathered back into one row per frame. Under DDP every
    process sends its share to global rank 0, which orders the rows by
    dataset index (one row per frame, as a single process writes them) and
    writes the files once, atomically.

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
        """Gather every process's predictions on rank 0, which writes them once, in dataset order."""
        collected = gather_on_rank_zero(trainer, collect_predictions(predictions, batch_indices))
        if collected is not None:
            self._write(trainer, pl_module, collected)
        trainer.strategy.barrier("PredictionWriter")  # the files exist when predict returns on any rank

    def _write(self, trainer: L.Trainer, pl_module: L.LightningModule, collected: dict[str, Any]) -> None:
        keypoints = collected["keypoints"].numpy().astype(np.float64)
        image_paths = collected["image_path"]
        info = pl_module.dataset_info
        if "individual" in collected:  # crop mode: one row per individual's crop
            image_paths, keypoints = crops_to_frames(keypoints, image_paths, collected["individual"].numpy(),
                                                     len(info["individuals"]))
        keypoints = fit_individuals(keypoints, len(info["individuals"]))
        unique = collected["unique_keypoints"].numpy() if "unique_keypoints" in collected else None
        table = predictions_to_table(keypoints, image_paths, info["bodyparts"], info["individuals"], self.scorer,
                                     unique, info.get("unique_bodyparts") or ())
        output_dir = self.output_dir or Path(trainer.log_dir or trainer.default_root_dir) / "predictions"
        self.written = write_predictions(table, output_dir / "predictions")
        project = trainer.datamodule.project
        row = {path: i for i, path in enumerate(project.image_paths)}
        labels = project.keypoints[[row[path] for path in image_paths]] if all(p in row for p in image_paths) else None
        self.written.append(plot_predictions(Path(project.root), image_paths, keypoints, info["bodyparts"],
                                             output_dir / "predictions.png", pcutoff=self.pcutoff, labels=labels))


def collect_predictions(predictions: list[Any], batch_indices: Any) -> dict[str, Any]:
    """One process's ``predict_step`` results (one dataloader) as one dict, with their dataset indices.

    Tensors are concatenated on the CPU and ``image_path`` lists joined; ``"index" [M]`` holds
    each row's dataset index (from Lightning's ``batch_indices``, which its predict loop records
    for every dataloader it can wrap; else ``0 … M-1``, the order of a single process).
    """
    batches = predictions[0] if predictions and isinstance(predictions[0], list) else predictions
    per_batch = batch_indices[0] if batch_indices else []  # Lightning: [dataloader][batch][sample]
    index = [int(i) for batch in per_batch for i in batch]
    collected: dict[str, Any] = {"image_path": [path for b in batches for path in b["image_path"]]}
    for key in ("keypoints", "individual", "unique_keypoints"):
        if batches and key in batches[0]:
            collected[key] = torch.cat([b[key] for b in batches]).cpu()
    rows = len(collected["image_path"])
    collected["index"] = torch.tensor(index if len(index) == rows else range(rows), dtype=torch.long)
    return collected


def gather_on_rank_zero(trainer: L.Trainer, collected: dict[str, Any]) -> dict[str, Any] | None:
    """All processes' :func:`collect_predictions` merged on global rank 0 (``None`` on the others)."""
    if trainer.world_size == 1 or not torch.distributed.is_initialized():
        return collected
    parts: list[Any] | None = [None] * trainer.world_size if trainer.global_rank == 0 else None
    torch.distributed.gather_object(collected, parts, dst=0)
    return merge_by_index(parts) if parts is not None else None


def merge_by_index(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Concatenate per-process predictions, order rows by dataset index, keep one row per index.

    A distributed sampler that pads (repeats samples so every process gets as many) would
    otherwise write the repeated frames twice.
    """
    index = torch.cat([part["index"] for part in parts])
    _, first = np.unique(index.numpy(), return_index=True)  # sorted by index, first occurrence of each
    rows = torch.from_numpy(first)
    merged: dict[str, Any] = {"index": index[rows]}
    paths = [path for part in parts for path in part["image_path"]]
    merged["image_path"] = [paths[row] for row in first]
    for key in ("keypoints", "individual", "unique_keypoints"):
        if key in parts[0]:
            merged[key] = torch.cat([part[key] for part in parts])[rows]
    return merged
