"""lightning_pose_arch: modular pose estimation on PyTorch Lightning.

The top-level names are imported on first use (PEP 562 ``__getattr__``), so
``import lightning_pose_arch`` stays fast (no torch or Lightning until needed)::

    import lightning_pose_arch as lpa

    module = lpa.PoseLitModule(cfg)                    # cfg: {"model": ..., "optimizer": ...}
    data = lpa.PoseDataModule("path/to/dlc-project")
    backbone = lpa.BACKBONES.build({"type": "ResNet", "variant": 50})
    lpa.analyze("best.ckpt", ["video.mp4"])             # DeepLabCut-layout tables beside the video
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# albumentations checks PyPI for updates at import; pose pipelines must run offline and quietly.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {  # public name -> module that defines it
    "PoseLitModule": "lightning_pose_arch.lit.module",
    "PoseDataModule": "lightning_pose_arch.data.datamodule",
    "PoseModel": "lightning_pose_arch.models.pose_model",
    "analyze": "lightning_pose_arch.inference.analyze",
    "load_module": "lightning_pose_arch.inference.runner",
    "BACKBONES": "lightning_pose_arch.models.backbones",
    "NECKS": "lightning_pose_arch.models.necks",
    "HEADS": "lightning_pose_arch.models.heads",
    "PREDICTORS": "lightning_pose_arch.models.predictors",
    "TARGET_GENERATORS": "lightning_pose_arch.models.target_generators",
    "CRITERIONS": "lightning_pose_arch.models.criterions",
    "AGGREGATORS": "lightning_pose_arch.models.aggregators",
    "DETECTORS": "lightning_pose_arch.models.detectors",
    "CONSISTENCY_LOSSES": "lightning_pose_arch.models.consistency",
    "TRACKERS": "lightning_pose_arch.tracking",
}
__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # static analysers and IDEs see the real objects
    from lightning_pose_arch.data.datamodule import PoseDataModule
    from lightning_pose_arch.inference.analyze import analyze
    from lightning_pose_arch.inference.runner import load_module
    from lightning_pose_arch.lit.module import PoseLitModule
    from lightning_pose_arch.models.aggregators import AGGREGATORS
    from lightning_pose_arch.models.backbones import BACKBONES
    from lightning_pose_arch.models.consistency import CONSISTENCY_LOSSES
    from lightning_pose_arch.models.criterions import CRITERIONS
    from lightning_pose_arch.models.detectors import DETECTORS
    from lightning_pose_arch.models.heads import HEADS
    from lightning_pose_arch.models.necks import NECKS
    from lightning_pose_arch.models.pose_model import PoseModel
    from lightning_pose_arch.models.predictors import PREDICTORS
    from lightning_pose_arch.models.target_generators import TARGET_GENERATORS
    from lightning_pose_arch.tracking import TRACKERS


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lightning_pose_arch' has no attribute {name!r}; public names: {sorted(_EXPORTS)}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
