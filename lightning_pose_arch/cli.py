"""The ``lpa`` command: LightningCLI subcommands plus ``lpa demo``.

    lpa fit --config experiments/openfield_resnet50_heatmap.yaml
    lpa test --config experiments/openfield_resnet50_heatmap.yaml --ckpt_path runs/.../best.ckpt
    lpa predict --config ... --ckpt_path ...    (writes <log dir>/predictions/predictions.{h5,csv,png})
    lpa demo --out lpa_demo                      (train briefly on the bundled example, predict, plot)
    lpa analyze --checkpoint CKPT video.mp4 ...  (DeepLabCut-layout .h5/.csv next to each input)
    lpa label-video video.mp4 --predictions video_<model>.h5
    lpa plot video_<model>.h5
    lpa export --checkpoint CKPT --format onnx   (keypoints out; parity-checked against PyTorch)
    lpa registry [--out docs/config_reference.md] (every registered type, its arguments and docstring)
"""

from __future__ import annotations

import sys

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from lightning_pose_arch.commands import COMMANDS
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.inference.writer import PredictionWriter
from lightning_pose_arch.lit.module import PoseLitModule


def default_checkpoint() -> ModelCheckpoint:
    """Keep the best checkpoint by validation mean pixel error, and the last one (for resuming)."""
    return ModelCheckpoint(monitor="val/mean_pixel_error", mode="min", save_last=True,
                           filename="best-{epoch:03d}", auto_insert_metric_name=False)


class PoseCLI(LightningCLI):
    """LightningCLI over :class:`PoseLitModule` and :class:`PoseDataModule`."""


def main(args: list[str] | None = None) -> None:
    args = sys.argv[1:] if args is None else list(args)
    if args[:1] == ["demo"]:
        from lightning_pose_arch.demo import main as demo_main

        demo_main(args[1:])
        return
    if args and args[0] in COMMANDS:
        COMMANDS[args[0]](args[1:])
        return
    PoseCLI(
        PoseLitModule,
        PoseDataModule,
        args=args,
        trainer_defaults={"callbacks": [default_checkpoint(), PredictionWriter()]},
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,
    )


if __name__ == "__main__":
    main()
