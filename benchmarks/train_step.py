"""Benchmark: one training step on the same batch, ours vs DeepLabCut 3's, in one run.

Both sides take a batch of ``B×3×S×S`` uint8 frames with 4 keypoints per frame
and do what their trainers do per step: forward, target generation, loss,
backward, AdamW step. Ours is the ``model.cfg.model`` of a recipe (default:
``experiments/openfield_resnet50_heatmap.yaml``) in the recipe's memory layout, built for the openfield
bodyparts; DeepLabCut's is the model of its ``pytorch_config.yaml`` for the
openfield project (``resnet_50``: timm ``resnet50_gn``, output stride 16, one
deconvolution), built in DeepLabCut's own venv (``../shared/anchors/dlc/setup.sh``)
in a subprocess, from random weights. Each side runs alone, one after the other,
with the same thread count.

Run: ``python benchmarks/train_step.py [--recipe R.yaml] [--size 448] [--batch 8] [--steps 5]
[--channels-last (both layouts)] [--dlc-python /tmp/dlc-venv/bin/python] [--dlc-work DIR]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

from lightning_pose_arch.yaml_files import load_yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import median_time  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ANCHOR = REPO.parent / "shared" / "anchors" / "dlc"
BODYPARTS = ["snout", "leftear", "rightear", "tailbase"]

# Runs in DeepLabCut's venv: argv = config path, size, batch, steps, threads; prints seconds per step.
DLC_STEP = """
import json, sys, time, statistics, torch, yaml
from deeplabcut.pose_estimation_pytorch.models import PoseModel
config, size, batch, steps, threads = sys.argv[1], *map(int, sys.argv[2:6])
torch.set_num_threads(threads)
torch.manual_seed(0)
cfg = yaml.safe_load(open(config))
model = PoseModel.build(cfg["model"], pretrained_backbone=False).train()
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4)
images = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8)
keypoints = torch.rand(batch, 1, 4, 2) * (size - 1)
labels = {"keypoints": torch.cat([keypoints, torch.full((batch, 1, 4, 1), 2.0)], -1),
          "area": torch.full((batch, 1), float(size * size))}
def step():
    optimizer.zero_grad()
    outputs = model(images.float())
    losses = model.get_loss(outputs, model.get_target(outputs, labels))
    losses["total_loss"].backward()
    optimizer.step()
step()
times = []
for _ in range(steps):
    start = time.perf_counter(); step(); times.append(time.perf_counter() - start)
print(json.dumps({"seconds": statistics.median(times)}))
"""


def our_step_seconds(cfg: dict, size: int, batch: int, steps: int, channels_last: bool) -> float:
    """Median seconds of one training step of a recipe's model (``cfg``: its ``model.cfg``) on a random
    ``batch×3×size×size`` uint8 batch."""
    from lightning_pose_arch.data.transforms import IMAGENET_NORMALIZATION
    from lightning_pose_arch.models.pose_model import PoseModel

    torch.manual_seed(0)
    model = PoseModel.from_config(cfg["model"], num_keypoints={"keypoints": len(BODYPARTS), "unique_keypoints": 0},
                                  image_size=(size, size), normalization=IMAGENET_NORMALIZATION).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["optimizer"].get("lr", 1e-3))
    images = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8)
    keypoints = torch.cat([torch.rand(batch, 1, len(BODYPARTS), 2) * (size - 1),
                           torch.ones(batch, 1, len(BODYPARTS), 1)], dim=-1)
    labels = {"image": images, "keypoints": keypoints}

    def step() -> None:
        optimizer.zero_grad()
        inputs = model.input_transform(images)
        if channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        outputs = model(inputs)
        model.get_loss(outputs, model.get_targets(labels, outputs))["total"].backward()
        optimizer.step()

    return median_time(step, repeats=steps)


def dlc_config(work: Path, python: Path) -> Path:
    """DeepLabCut's ``pytorch_config.yaml`` for openfield, made once by the anchor's setup step."""
    found = sorted(work.rglob("train/pytorch_config.yaml"))
    if not found:
        subprocess.run([str(python), str(ANCHOR / "run_openfield.py"), "--step", "setup", "--work", str(work)],
                       check=True, capture_output=True)
        found = sorted(work.rglob("train/pytorch_config.yaml"))
    return found[0]


def dlc_step_seconds(python: Path, config: Path, size: int, batch: int, steps: int) -> float:
    command = [str(python), "-c", DLC_STEP, str(config), str(size), str(batch), str(steps),
               str(torch.get_num_threads())]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, nargs="+", default=[REPO / "experiments/openfield_resnet50_heatmap.yaml"])
    parser.add_argument("--size", type=int, default=448)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--channels-last", action="store_true",
                        help="time ours in both memory layouts (default: the recipe's channels_last)")
    parser.add_argument("--dlc-python", type=Path, default=Path("/tmp/dlc-venv/bin/python"))
    parser.add_argument("--dlc-work", type=Path, default=Path("/tmp/dlc-train-step"))
    options = parser.parse_args()
    shape = f"{options.batch}x3x{options.size}x{options.size}"
    print(f"one training step on {shape}, {torch.get_num_threads()} threads, median of {options.steps}\n")
    reference = None
    if options.dlc_python.is_file():
        config = dlc_config(options.dlc_work, options.dlc_python)
        reference = dlc_step_seconds(options.dlc_python, config, options.size, options.batch, options.steps)
        print(f"{'DeepLabCut 3.0.2 resnet_50 (resnet50_gn, stride 8 maps)':<60} {reference:7.2f} s   1.00x")
    else:
        print(f"(no DeepLabCut venv at {options.dlc_python}: run ../shared/anchors/dlc/setup.sh for the reference)")
    for recipe in options.recipe:
        cfg = load_yaml(recipe)["model"]["cfg"]
        for channels_last in [False, True] if options.channels_last else [bool(cfg.get("channels_last", False))]:
            seconds = our_step_seconds(cfg, options.size, options.batch, options.steps, channels_last)
            name = recipe.stem + (" channels_last" if channels_last else "")
            speedup = f"{reference / seconds:5.2f}x" if reference else ""
            print(f"{name:<60} {seconds:7.2f} s   {speedup}")
    if reference:
        print("\n(the last column: DeepLabCut's step time ÷ ours; above 1 means ours is faster)")


if __name__ == "__main__":
    main()
