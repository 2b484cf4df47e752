"""Batched, streamed inference with a trained PoseLitModule: frames in, file-pixel keypoints out."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from lightning_pose_arch.lit.checkpoints import read_checkpoint
from lightning_pose_arch.lit.module import PoseLitModule, check_checkpoint_fits
from lightning_pose_arch.registry import ConfigError

_END = object()


def resolve_device(device: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; a named device must exist here (ConfigError otherwise)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ConfigError(f"--device {device!r} is not a device name: use auto, cpu, cuda or cuda:N") from err
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"--device {device}: PyTorch sees no CUDA GPU on this machine (torch "
                              f"{torch.__version__}, built for CUDA {torch.version.cuda}); use --device cpu, or "
                              "--device auto to take a GPU when there is one")
        if resolved.index is not None and resolved.index >= count:
            raise ConfigError(f"--device {device}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
    return resolved


PRECISIONS = {"32-true": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The network's forward in ``precision`` (Lightning's names: ``32-true``, ``bf16-mixed``, ``16-mixed``);
    keypoints are still decoded in float32 (:meth:`PoseModel.predict`)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {list(PRECISIONS)}, got {precision!r}")
    dtype = PRECISIONS[precision]
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def load_module(checkpoint: str | Path, device: str = "auto", trust_checkpoint: bool = False) -> PoseLitModule:
    """Load a self-describing checkpoint in eval mode on ``device``.

    Only tensors and plain containers are unpickled unless ``trust_checkpoint`` (see
    :func:`~lightning_pose_arch.lit.checkpoints.read_checkpoint`); a file that is not a training
    checkpoint of this package, or does not fit the model its config describes, raises
    :class:`~lightning_pose_arch.registry.ConfigError` naming it.
    """
    target = resolve_device(device)  # before reading: a device that is not there fails at once
    contents = read_checkpoint(checkpoint, trust_checkpoint)
    hparams = contents["hyper_parameters"]
    module = PoseLitModule(hparams["cfg"], dataset_info=hparams["dataset_info"])
    check_checkpoint_fits(module, contents, f"checkpoint {checkpoint}")
    module.load_state_dict(contents["state_dict"])
    return module.eval().to(target)


def prefetch(items: Iterable, depth: int = 4) -> Iterator:
    """Iterate ``items`` in a background thread (video decoding overlaps the forward pass)."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            for item in items:
                buffer.put(item)
        except BaseException as err:  # re-raised in the consumer thread below
            failure.append(err)
        finally:
            buffer.put(_END)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    while (item := buffer.get()) is not _END:
        yield item
    thread.join()
    if failure:
        raise failure[0]


def batched(frames: Iterable[np.ndarray], batch_size: int) -> Iterator[np.ndarray]:
    """Group same-size frames into ``[B, H, W, 3]`` arrays."""
    batch: list[np.ndarray] = []
    for frame in frames:
        if batch and frame.shape != batch[0].shape:
            yield np.stack(batch)
            batch = []
        batch.append(frame)
        if len(batch) == batch_size:
            yield np.stack(batch)
            batch = []
    if batch:
        yield np.stack(batch)


def frames_to_tensor(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """``[B, H0, W0, 3]`` uint8 RGB → ``[B, 3, H0, W0]`` float on the 0–255 scale, on ``device``."""
    return torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).float()


class Inferencer:
    """Run a trained model on raw frames.

    ``__call__(frames [B, H0, W0, 3] uint8 RGB)`` → keypoints ``[B, N, K, 3]``
    (x, y, score) in the frames' pixels, through the model's own input step
    (:meth:`~lightning_pose_arch.models.pose_model.PoseModel.predict_frames`:
    resize and normalization on the model's device, keypoints mapped back
    with the same pixel-center convention).

    Args:
        module: A trained module with ``dataset_info``.
        flip_test: Average each prediction with the one on the mirrored frame (single-individual heads).
        precision: The network's forward in ``32-true``, ``bf16-mixed`` or ``16-mixed`` (:func:`autocast`).
    """

    def __init__(self, module: PoseLitModule, flip_test: bool = False, precision: str = "32-true") -> None:
        if module.dataset_info is None or module.model is None:
            raise ValueError("the module has no dataset_info: load it from a checkpoint written by training")
        self.module = module.eval()
        self.flip_pairs = module.flip_pairs_by_head() if flip_test else None
        autocast(self.device, precision)  # an unknown precision fails here, before any frame is read
        self.precision = precision

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        return self.predict(frames)["keypoints"]

    @torch.inference_mode()
    def predict(self, frames: np.ndarray) -> dict[str, torch.Tensor]:
        """``{"keypoints": [B, N, K, 3]}`` in the frames' pixels (``PoseModel.keypoints_head``'s), plus
        ``"unique_keypoints": [B, 1, U, 3]`` when a head is trained on the unique bodyparts."""
        model = self.module.model
        heads = {"keypoints": model.keypoints_head, "unique_keypoints": model.head_for("unique_keypoints")}
        with autocast(self.device, self.precision):
            predictions = model.predict_frames(torch.from_numpy(frames).to(self.device), heads.values(),
                                               self.flip_pairs)
        return {key: predictions[head]["keypoints"] for key, head in heads.items() if head is not None}
