"""Pixel error and signed bias of a checkpoint on its test frames, in file pixels, with and without flip test.

    PYTHONPATH=$PWD python benchmarks/pixel_bias.py CKPT [--project DIR] [--split test|all] [--device cpu]

Predicts the frames of the checkpoint's own split (saved in the checkpoint by
training; else the data module's seeded split) through the model's input step
(``lpa analyze``'s path), and prints, over labeled keypoints, the mean
Euclidean error and the mean signed x and y error (prediction − label) in file
pixels: plain, with flip test-time augmentation, and the flip-test gain. The
row "x·s mapping" repeats the plain numbers with predictions mapped back the
way code before issue 14 did (``x_file = x_input · W0/W``, i.e. shifted by
``0.5·(1 − W0/W)``), which is how a checkpoint of that code was evaluated.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.data.images import read_image
from lightning_pose_arch.inference.runner import Inferencer, load_module
from lightning_pose_arch.lit.checkpoints import read_checkpoint

DEFAULT_PROJECT = "../shared/data/openfield-Pranav-2018-10-30"


def checkpoint_split(path: Path, project: str, split: str) -> list[str]:
    """Frame paths of ``split``: from the data module state saved in the checkpoint, else the seeded split
    (``"all"``: every labeled frame)."""
    if split == "all":
        return list(PoseDataModule(project, num_workers=0).project.image_paths)
    contents = read_checkpoint(path)
    for value in contents.values():
        if isinstance(value, dict) and isinstance(value.get("split"), dict) and split in value["split"]:
            return list(value["split"][split])
    return list(PoseDataModule(project, num_workers=0).split[split])


def predict(inferencer: Inferencer, data: PoseDataModule, paths: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(predictions [F, K, 2], labels [F, K, 3], frame sizes [F, 2])`` in file pixels (first individual)."""
    rows = {path: i for i, path in enumerate(data.project.image_paths)}
    predictions, labels, sizes = [], [], []
    for path in paths:
        frame = read_image(data.project.root / path)
        predictions.append(inferencer(frame[None])[0, 0, :, :2].cpu().numpy())
        labels.append(data.project.keypoints[rows[path], 0])
        sizes.append([frame.shape[1], frame.shape[0]])
    return np.stack(predictions), np.stack(labels), np.array(sizes, dtype=np.float64)


def summary(predictions: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """(mean pixel error, mean signed x error, mean signed y error) over labeled keypoints."""
    labeled = labels[..., 2] > 0
    delta = predictions[labeled] - labels[labeled][:, :2]
    return float(np.linalg.norm(delta, axis=-1).mean()), float(delta[:, 0].mean()), float(delta[:, 1].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--project", default=DEFAULT_PROJECT)
    parser.add_argument("--split", default="test", choices=["train", "val", "test", "all"],
                        help="frames to predict (all: every labeled frame, trained on or not)")
    parser.add_argument("--device", default="cpu")
    options = parser.parse_args()
    torch.set_num_threads(2)
    module = load_module(options.checkpoint, options.device)
    data = PoseDataModule(options.project, image_size=tuple(module.dataset_info["image_size"]), num_workers=0)
    paths = checkpoint_split(options.checkpoint, options.project, options.split)
    unknown = sorted(set(paths) - set(data.project.image_paths))
    if unknown:
        raise SystemExit(f"the checkpoint's {options.split} split lists frames not labeled in {options.project} "
                         f"(e.g. {unknown[:2]}): pass --project with the project it was trained on")
    plain, labels, sizes = predict(Inferencer(module), data, paths)
    flipped, _, _ = predict(Inferencer(module, flip_test=True), data, paths)
    height, width = module.dataset_info["image_size"]
    legacy = plain + 0.5 * (1 - sizes[:, None, :] / np.array([width, height]))
    print(f"{options.checkpoint}: {len(paths)} {options.split} frames, {int((labels[..., 2] > 0).sum())} labeled keypoints")
    print(f"{'':14s} {'mean px error':>13s} {'mean dx':>8s} {'mean dy':>8s}")
    rows = {"plain": summary(plain, labels), "flip test": summary(flipped, labels), "x·s mapping": summary(legacy, labels)}
    for name, (error, dx, dy) in rows.items():
        print(f"{name:14s} {error:13.3f} {dx:+8.3f} {dy:+8.3f}")
    print(f"flip-test gain: {rows['plain'][0] - rows['flip test'][0]:+.3f} px (mean error, plain − flip test)")


if __name__ == "__main__":
    main()
