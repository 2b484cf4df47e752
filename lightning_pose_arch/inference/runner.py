"""Batched, streamed inference with a trained PoseLitModule: frames in, file-pixel keypoints out."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lightning_pose_arch.data.transforms import input_to_original
from lightning_pose_arch.lit.checkpoints import read_checkpoint
from lightning_pose_arch.lit.module import PoseLitModule, check_checkpoint_fits

_END = object()


def resolve_device(device: str) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_module(checkpoint: str | Path, device: str = "auto", trust_checkpoint: bool = False) -> PoseLitModule:
    """Load a self-describing checkpoint in eval mode on ``device``.

    Only tensors and plain containers are unpickled unless ``trust_checkpoint`` (see
    :func:`~lightning_pose_arch.lit.checkpoints.read_checkpoint`); a file that is not a training
    checkpoint of this package, or does not fit the model its config describes, raises
    :class:`~lightning_pose_arch.registry.ConfigError` naming it.
    """
    contents = read_checkpoint(checkpoint, trust_checkpoint)
    hparams = contents["hyper_parameters"]
    module = PoseLitModule(hparams["cfg"], dataset_info=hparams["dataset_info"])
    check_checkpoint_fits(module, contents, f"checkpoint {checkpoint}")
    module.load_state_dict(contents["state_dict"])
    return module.eval().to(resolve_device(device))


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
    """``[B, H0, W0, 3]`` uint8 RGB → ``[B, 3, H0, W0]`` float in [0, 1] on ``device``."""
    return torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).float() / 255.0


def normalize(images: torch.Tensor, normalization: dict[str, list[float]]) -> torch.Tensor:
    """``[B, 3, H, W]`` in [0, 1] → normalized with the training ``mean``/``std``."""
    mean = torch.tensor(normalization["mean"], device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    std = torch.tensor(normalization["std"], device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    return (images - mean) / std


class Inferencer:
    """Run a trained model on raw frames.

    ``__call__(frames [B, H0, W0, 3] uint8 RGB)`` → keypoints ``[B, N, K, 3]``
    (x, y, score) in the frames' pixels. Preprocessing (resize to the
    training ``image_size``, normalization) runs on the model's device.

    Args:
        module: A trained module with ``dataset_info``.
    """

    def __init__(self, module: PoseLitModule) -> None:
        if module.dataset_info is None or module.model is None:
            raise ValueError("the module has no dataset_info: load it from a checkpoint written by training")
        self.module = module.eval()
        info = module.dataset_info
        self.image_size = tuple(info["image_size"])

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    def preprocess(self, frames: np.ndarray) -> torch.Tensor:
        """``[B, H0, W0, 3]`` uint8 → ``[B, 3, H, W]`` normalized, on the model's device."""
        images = F.interpolate(frames_to_tensor(frames, self.device), size=self.image_size, mode="bilinear",
                               align_corners=False)
        return normalize(images, self.module.dataset_info["normalization"])

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        return self.predict(frames)["keypoints"]

    @torch.inference_mode()
    def predict(self, frames: np.ndarray) -> dict[str, torch.Tensor]:
        """``{"keypoints": [B, N, K, 3]}`` in the frames' pixels (``PoseModel.keypoints_head``'s), plus
        ``"unique_keypoints": [B, 1, U, 3]`` when a head is trained on the unique bodyparts."""
        model = self.module.model
        heads = {"keypoints": model.keypoints_head, "unique_keypoints": model.head_for("unique_keypoints")}
        predictions = model.predict(model(self.preprocess(frames)), heads.values())
        height, width = frames.shape[1:3]
        original_size = torch.tensor([[width, height]], dtype=torch.float32, device=self.device).expand(len(frames), 2)
        return {key: input_to_original(predictions[head]["keypoints"], original_size, self.image_size)
                for key, head in heads.items() if head is not None}
