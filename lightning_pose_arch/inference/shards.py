"""Split ``lpa analyze``'s inputs across processes: torchrun ranks, SLURM array tasks, or ``--shard I/N``.

Every process lists the same inputs and computes the same assignment, so each
video is analyzed by exactly one process and no process needs to talk to
another; the files written are those of a single-process run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lightning_pose_arch.registry import ConfigError


@dataclass(frozen=True)
class Shard:
    """Process ``index`` of ``count`` (0-based)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ConfigError(f"shard {self.index}/{self.count}: need count >= 1 and 0 <= index < count")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` (0-based index I of N shards), e.g. ``"0/4"``."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if match is None:
            raise ConfigError(f"--shard must be INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/4; got {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Shard | None:
        """The shard a launcher gives this process: torchrun's ``RANK``/``WORLD_SIZE``, else a SLURM array's
        ``SLURM_ARRAY_TASK_ID`` within ``SLURM_ARRAY_TASK_MIN``..``SLURM_ARRAY_TASK_MAX``; ``None`` if neither."""
        env = os.environ if environ is None else environ
        if "WORLD_SIZE" in env and "RANK" in env:
            return cls(int(env["RANK"]), int(env["WORLD_SIZE"]))
        if "SLURM_ARRAY_TASK_ID" in env:
            first = int(env.get("SLURM_ARRAY_TASK_MIN", "0"))
            last = int(env.get("SLURM_ARRAY_TASK_MAX", env["SLURM_ARRAY_TASK_ID"]))
            step = int(env.get("SLURM_ARRAY_TASK_STEP", "1"))
            return cls((int(env["SLURM_ARRAY_TASK_ID"]) - first) // step, (last - first) // step + 1)
        return None

    def select(self, sizes: Sequence[int]) -> list[int]:
        """Indices (in input order) of the inputs this shard analyzes, given every input's frame count.

        Largest first, each to the shard with the fewest frames so far (ties: the lower shard), so
        shards finish close together; deterministic, so every process agrees.
        """
        loads = [0] * self.count
        mine = []
        for position in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
            shard = min(range(self.count), key=lambda s: (loads[s], s))
            loads[shard] += sizes[position]
            if shard == self.index:
                mine.append(position)
        return sorted(mine)


def local_device(device: str, environ: Mapping[str, str] | None = None) -> str:
    """``"auto"`` under torchrun on a GPU machine → ``cuda:<LOCAL_RANK>`` (one GPU per process); else ``device``."""
    import torch

    env = os.environ if environ is None else environ
    if device == "auto" and "LOCAL_RANK" in env and torch.cuda.is_available():
        return f"cuda:{int(env['LOCAL_RANK']) % torch.cuda.device_count()}"
    return device
