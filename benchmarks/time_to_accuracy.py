"""Benchmark: wall time from labels to a model of a given test error, on DeepLabCut's openfield split.

Trains a recipe (default ``experiments/openfield_resnet50_heatmap.yaml``) on
DeepLabCut's own split of openfield (``TrainingFraction`` 0.95, seed 42: 110
training frames; test img0044/0047/0064/0067/0103/0112), evaluating the six test
frames after every epoch, and prints per epoch the wall time since training
started (evaluation included) and the test mean pixel error. The summary gives
the first time the error reached ``--target`` (DeepLabCut 3.0.2's 12-epoch error
there, 33.8 px), whether it stayed below from then on, the time from which every
later epoch stayed at or below it, and the error at
``--deadline`` seconds (DeepLabCut's 12-epoch wall time, measured in the same
session with ``../shared/anchors/dlc/run_openfield.py``). The final model's error
per test frame and bodypart is printed (where the mean comes from), its mean error
on the training frames (without augmentation: underfitting or not) goes in the
summary, and both are saved with the rest in ``OUT/time_to_accuracy.json``; the model itself as ``OUT/last.ckpt``
(for ``benchmarks/pixel_bias.py`` or ``lpa analyze``).

``--max-seconds`` ends training after the first epoch that ends past that wall time (the
schedule stays the recipe's), e.g. to measure only up to ``--deadline``.

Run: ``python benchmarks/time_to_accuracy.py [--recipe R.yaml] [--epochs N] [--target 33.8] [--deadline S]
[--max-seconds S] [--out DIR]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import lightning as L
import torch

if TYPE_CHECKING:
    from torch.utils.data import DataLoader

    from lightning_pose_arch.data.formats.base import LabeledData

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO.parent / "shared" / "data" / "openfield-Pranav-2018-10-30"
DLC_TEST_FRAMES = ["img0044.png", "img0047.png", "img0064.png", "img0067.png", "img0103.png", "img0112.png"]


class EpochClock(L.Callback):
    """Records, after each epoch and its validation, the seconds since fit started and the validation mean pixel
    error; stops training after the first epoch that ends past ``stop_after`` seconds."""

    def __init__(self, *, stop_after: float | None = None) -> None:
        self.stop_after = stop_after
        self.start = 0.0
        self.rows: list[dict[str, float]] = []

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # after the epoch's validation, whose metrics the module logs in its own epoch-end hook
        error = float(trainer.callback_metrics["val/mean_pixel_error"])
        self.rows.append({"epoch": trainer.current_epoch + 1, "seconds": time.perf_counter() - self.start,
                          "test_error_px": error})
        print(f"epoch {trainer.current_epoch + 1:3d}  {self.rows[-1]['seconds']:7.1f} s  test error {error:7.2f} px",
              flush=True)
        if self.stop_after is not None and self.rows[-1]["seconds"] > self.stop_after:
            trainer.should_stop = True


def dlc_split(image_paths: list[str]) -> dict[str, list[str]]:
    """DeepLabCut's openfield split, with its test frames as our validation split (evaluated every epoch)."""
    test = sorted(p for p in image_paths if Path(p).name in DLC_TEST_FRAMES)
    if len(test) != len(DLC_TEST_FRAMES):
        raise SystemExit(f"expected DeepLabCut's 6 openfield test frames, found {test}")
    return {"train": sorted(set(image_paths) - set(test)), "val": test, "test": []}


def summarize(rows: list[dict[str, float]], target: float, deadline: float | None) -> dict[str, object]:
    """First epoch at or below ``target``, whether every later epoch stayed there, and the error at ``deadline``."""
    reached = next((i for i, row in enumerate(rows) if row["test_error_px"] <= target), None)
    summary: dict[str, object] = {"target_px": target, "final_error_px": rows[-1]["test_error_px"],
                                  "total_s": rows[-1]["seconds"]}
    if reached is not None:
        summary.update(reached_epoch=rows[reached]["epoch"], reached_s=rows[reached]["seconds"],
                       stable_after=all(row["test_error_px"] <= target for row in rows[reached:]))
    above = [i for i, row in enumerate(rows) if row["test_error_px"] > target]
    stable = above[-1] + 1 if above else 0  # every epoch from here on is at or below the target
    if stable < len(rows):
        summary.update(stable_from_epoch=rows[stable]["epoch"], stable_from_s=rows[stable]["seconds"])
    if deadline is not None:
        before = [row for row in rows if row["seconds"] <= deadline]
        summary["error_at_deadline_px"] = before[-1]["test_error_px"] if before else None
        summary["deadline_s"] = deadline
    return summary


def keypoint_errors(trainer: L.Trainer, module: L.LightningModule, frames: DataLoader,
                    labels: LabeledData) -> dict[str, dict[str, float | None]]:
    """The trained model's error in file pixels per frame of ``frames`` and bodypart (``None``: not labeled there)."""
    truth = {Path(path).name: keypoints[0] for path, keypoints in zip(labels.image_paths, labels.keypoints)}
    errors: dict[str, dict[str, float | None]] = {}
    for batch in trainer.predict(module, dataloaders=frames):
        for path, keypoints in zip(batch["image_path"], batch["keypoints"]):
            true = torch.as_tensor(truth[Path(path).name])
            distances = (keypoints[0, :, :2] - true[:, :2]).norm(dim=-1)
            errors[Path(path).name] = {name: float(d) if visible > 0 else None
                                       for name, d, visible in zip(labels.bodyparts, distances, true[:, 2])}
    return errors


def mean_error(errors: dict[str, dict[str, float | None]]) -> float:
    """Mean over every labeled (frame, bodypart) of a :func:`keypoint_errors` table."""
    values = [error for row in errors.values() for error in row.values() if error is not None]
    return sum(values) / len(values)


def print_keypoint_errors(errors: dict[str, dict[str, float | None]]) -> None:
    """A frame × bodypart table: where the mean error comes from."""
    bodyparts = list(next(iter(errors.values())))
    print(f"{'frame':14s}" + "".join(f"{name:>10s}" for name in bodyparts))
    for frame, row in errors.items():
        print(f"{frame:14s}" + "".join(f"{'-' if row[name] is None else f'{row[name]:.2f}':>10s}" for name in bodyparts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=REPO / "experiments/openfield_resnet50_heatmap.yaml")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's max_epochs (and T_max)")
    parser.add_argument("--target", type=float, default=33.8)
    parser.add_argument("--deadline", type=float, default=None, help="seconds (DeepLabCut's 12-epoch train time)")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="end training after the first epoch that ends past this wall time")
    parser.add_argument("--out", type=Path, default=Path("/tmp/time_to_accuracy"))
    options = parser.parse_args()

    from lightning_pose_arch.data.datamodule import PoseDataModule
    from lightning_pose_arch.data.formats import read_labeled_data
    from lightning_pose_arch.data.split import save_split
    from lightning_pose_arch.lit.module import PoseLitModule
    from lightning_pose_arch.yaml_files import load_yaml

    recipe = load_yaml(options.recipe)
    cfg, data, trainer_cfg = recipe["model"]["cfg"], recipe["data"], recipe["trainer"]
    epochs = options.epochs or trainer_cfg["max_epochs"]
    if options.epochs and cfg.get("scheduler", {}).get("T_max"):
        cfg["scheduler"]["T_max"] = epochs
    split_file = options.out / "split.json"
    labels = read_labeled_data(PROJECT)
    save_split(dlc_split(labels.image_paths), split_file)
    L.seed_everything(recipe.get("seed_everything", 42), verbose=False)
    clock = EpochClock(stop_after=options.max_seconds)
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", default_root_dir=options.out, callbacks=[clock],
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        log_every_n_steps=trainer_cfg.get("log_every_n_steps", 5))
    module, datamodule = PoseLitModule(cfg), PoseDataModule.from_config(data, project_dir=PROJECT, split_file=split_file)
    trainer.fit(module, datamodule)
    trainer.save_checkpoint(options.out / "last.ckpt")  # for benchmarks/pixel_bias.py and lpa analyze
    summary = summarize(clock.rows, options.target, options.deadline)
    errors = keypoint_errors(trainer, module, datamodule.val_dataloader(), labels)
    print_keypoint_errors(errors)
    # the training frames, whole and unaugmented: a high error there is underfitting, not a failure to generalize
    datamodule.predict_split = "train"
    summary["train_error_px"] = mean_error(keypoint_errors(trainer, module, datamodule.predict_dataloader(), labels))
    (options.out / "time_to_accuracy.json").write_text(json.dumps({"recipe": str(options.recipe), "epochs": clock.rows,
                                                                   "summary": summary, "keypoint_errors_px": errors},
                                                                  indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
