"""The ``lpa`` command: LightningCLI subcommands plus ``lpa demo``.

    lpa fit --config experiments/openfield_resnet50_heatmap.yaml
    lpa test --config experiments/openfield_resnet50_heatmap.yaml --ckpt_path runs/.../best.ckpt
    lpa predict --config ... --ckpt_path ...    (writes <log dir>/predictions/predictions.{h5,csv,png})
    lpa detector fit --config experiments/openfield_fasterrcnn_detector.yaml   (boxes for top-down models)
    lpa demo --out lpa_demo                      (train briefly on the bundled example, predict, plot)
    lpa analyze --checkpoint CKPT video.mp4 ...  (DeepLabCut-layout .h5/.csv next to each input)
    lpa track video_<model>_detections.h5 --tracker '{type: KalmanTracker, max_gap: 50}'  (re-track, no network)
    lpa label-video video.mp4 --predictions video_<model>.h5
    lpa plot video_<model>.h5
    lpa export --checkpoint CKPT --format onnx   (keypoints out; parity-checked against PyTorch)
    lpa registry [--out docs/config_reference.md] (every registered type, its arguments and docstring)

Checkpoints are written atomically (:class:`AtomicCheckpointIO`), and ``--ckpt_path last``
resumes from the newest intact checkpoint of this experiment under ``trainer.default_root_dir``
(:func:`~lightning_pose_arch.lit.resume.resume_checkpoint`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.plugins import CheckpointIO

from lightning_pose_arch.commands import COMMANDS
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.inference.writer import PredictionWriter
from lightning_pose_arch.lit.checkpoints import AtomicCheckpointIO, PoseCheckpoint
from lightning_pose_arch.lit.detector import DetectorLitModule
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.lit.resume import check_explicit_checkpoint, resume_checkpoint
from lightning_pose_arch.yaml_files import install_cli_yaml_loader, load_yaml


def default_checkpoint(monitor: str = "val/mean_pixel_error", mode: str = "min") -> PoseCheckpoint:
    """Keep the best checkpoint by ``monitor`` (the latest without validation), and the last one."""
    return PoseCheckpoint(monitor=monitor, mode=mode, save_last=True,
                          filename="best-{epoch:03d}", auto_insert_metric_name=False)


class PoseCLI(LightningCLI):
    """LightningCLI over :class:`PoseLitModule` and :class:`PoseDataModule`; ``--ckpt_path last`` finds earlier runs."""

    @property
    def checkpoint_monitor(self) -> tuple[str, str]:
        """Best = lowest mean pixel error; for multi-animal whole-frame data, highest OKS mAP."""
        info = self.datamodule.dataset_info() if hasattr(self.datamodule, "dataset_info") else {}
        if len(info.get("individuals") or []) > 1 and not info.get("top_down"):
            return "val/map", "max"
        return "val/mean_pixel_error", "min"

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """The configured Trainer, plus defaults for what the config leaves out.

        :func:`default_checkpoint` unless the config has its own ``ModelCheckpoint`` (two
        callbacks both saving ``last.ckpt`` would race for the name), and atomic checkpoint
        writes (:class:`AtomicCheckpointIO`) unless it configures a ``CheckpointIO`` plugin.
        """
        config = self._get(self.config_init, "trainer", default={})
        callbacks, plugins = _as_list(config.get("callbacks")), _as_list(config.get("plugins"))
        has_checkpoint = any(isinstance(callback, ModelCheckpoint) for callback in callbacks)
        if config.get("enable_checkpointing") is not False and not has_checkpoint:
            callbacks.append(default_checkpoint(*self.checkpoint_monitor))
        if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
            plugins.append(AtomicCheckpointIO())
        return super().instantiate_trainer(**{"callbacks": callbacks, "plugins": plugins, **kwargs})

    def fit(self, **kwargs: Any) -> None:
        self.trainer.fit(**self._resolve_last(kwargs))

    def validate(self, **kwargs: Any) -> None:
        self.trainer.validate(**self._resolve_last(kwargs))

    def test(self, **kwargs: Any) -> None:
        self.trainer.test(**self._resolve_last(kwargs))

    def predict(self, **kwargs: Any) -> None:
        self.trainer.predict(**self._resolve_last(kwargs))

    def _resolve_last(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if kwargs.get("ckpt_path") == "last":
            # none yet: Lightning warns and starts from scratch (set-and-forget resuming)
            kwargs["ckpt_path"] = resume_checkpoint(self.trainer, kwargs["model"], kwargs.get("datamodule")) or "last"
        return kwargs

    def _parse_ckpt_path(self) -> None:
        """Refuse a cut-short ``--ckpt_path`` file by name before LightningCLI reads its hyperparameters."""
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path and Path(ckpt_path).is_file():
            check_explicit_checkpoint(ckpt_path)
        super()._parse_ckpt_path()


class DetectorCLI(PoseCLI):
    """``lpa detector fit|validate|test``: :class:`DetectorLitModule` on a :class:`PoseDataModule`'s whole frames.

    The best checkpoint is the one with the highest validation box mAP.
    """

    @property
    def checkpoint_monitor(self) -> tuple[str, str]:
        return "val/map", "max"


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def check_config_files(args: list[str]) -> None:
    """Parse every ``--config`` file with the safe YAML loader first, so a syntax error names the file."""
    for i, arg in enumerate(args):
        value = args[i + 1] if arg == "--config" and i + 1 < len(args) else arg.partition("=")[2]
        if (arg == "--config" or arg.startswith("--config=")) and Path(value).is_file():
            load_yaml(Path(value))


def main(args: list[str] | None = None) -> int:
    """The ``lpa`` console script: run a subcommand and return its exit status (0 on success).

    The script does ``sys.exit(main())``, so a returned object would exit with status 1; a failure
    raises (exit status 1, argument errors 2). Use :func:`run` for the finished CLI object.
    """
    run(args)
    return 0


def run(args: list[str] | None = None) -> PoseCLI | None:
    """Run ``lpa`` in-process; for the LightningCLI subcommands (fit, validate, test, predict) return the finished CLI."""
    args = sys.argv[1:] if args is None else list(args)
    if args[:1] == ["demo"]:
        from lightning_pose_arch.demo import main as demo_main

        demo_main(args[1:])
        return None
    if args and args[0] in COMMANDS:
        COMMANDS[args[0]](args[1:])
        return None
    check_config_files(args)
    install_cli_yaml_loader()
    if args[:1] == ["detector"]:
        return DetectorCLI(DetectorLitModule, PoseDataModule, args=args[1:], save_config_kwargs={"overwrite": True},
                           auto_configure_optimizers=False)
    return PoseCLI(
        PoseLitModule,
        PoseDataModule,
        args=args,
        trainer_defaults={"callbacks": [PredictionWriter()]},
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,
    )


if __name__ == "__main__":
    sys.exit(main())
