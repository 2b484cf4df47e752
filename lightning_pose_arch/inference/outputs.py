"""Where ``analyze`` writes each source's outputs, checked before any frame is read."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

from lightning_pose_arch.inference.sources import FrameSource

TABLE_SUFFIXES = (".h5", ".csv")


def output_base(source: FrameSource, out_dir: str | Path | None) -> Path:
    """``<folder>/<source stem>``: beside a video, inside an image folder, or in ``out_dir``."""
    folder = Path(out_dir) if out_dir is not None else (source.path.parent if source.is_video else source.path)
    return folder / source.stem


def output_stem(base: Path, scorer: str, dlc_compatible: bool) -> Path:
    """``<base>_<scorer>``, or ``<base><scorer>`` as DeepLabCut names its files (no separator)."""
    return base.with_name(f"{base.name}{'' if dlc_compatible else '_'}{scorer}")


def check_distinct_outputs(sources: Sequence[FrameSource], out_dir: str | Path | None) -> list[Path]:
    """Each source's :func:`output_base`; raise ``ValueError`` naming two inputs that would write the same files."""
    bases: dict[Path, FrameSource] = {}
    for source in sources:
        base = output_base(source, out_dir).resolve()
        if base in bases:
            raise ValueError(f"{bases[base].path} and {source.path} would both write {base}_<model>.h5: "
                             "analyze them in separate runs with different --out folders, or rename one")
        bases[base] = source
    return list(bases)


def outputs_exist(stem: Path) -> bool:
    """Whether a finished table (written atomically, so never partial) exists for ``stem``."""
    return all(stem.with_name(stem.name + suffix).is_file() for suffix in TABLE_SUFFIXES)


def warn_if_truncated(source: FrameSource, frames_read: int) -> None:
    """Warn when a video yields fewer frames than its header says (a cut or damaged file)."""
    expected = len(source)
    if source.is_video and frames_read < expected:
        warnings.warn(f"{source.path}: its header says {expected} frames, but only {frames_read} could be read "
                      f"(last frame read: {frames_read - 1}); the table has {frames_read} rows", stacklevel=2)
