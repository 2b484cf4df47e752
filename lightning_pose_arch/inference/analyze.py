"""Analyze videos and images with a trained model; write DeepLabCut-layout ``.h5``/``.csv`` files."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from lightning_pose_arch.inference.dlc_compat import dlc_metadata, dlc_project, dlc_scorer, write_meta_pickle
from lightning_pose_arch.inference.outputs import check_distinct_outputs, output_stem, outputs_exist, warn_if_truncated
from lightning_pose_arch.inference.runner import Inferencer, batched, load_module, prefetch
from lightning_pose_arch.inference.shards import Shard
from lightning_pose_arch.inference.sources import FrameSource, collect_sources
from lightning_pose_arch.inference.tables import predictions_to_table, write_predictions
from lightning_pose_arch.inference.topdown import TopDownInferencer, load_detector
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.registry import ConfigError
from lightning_pose_arch.tracking import BaseTracker, build_tracker
from lightning_pose_arch.tracking.io import identities, is_multi_animal, write_detections


def model_name(module: PoseLitModule, checkpoint: str | Path | None) -> str:
    """Scorer name for output files, e.g. ``LPA_ResNet50_HeatmapHead_best-029``."""
    model_cfg = module.hparams["cfg"]["model"]
    backbone = model_cfg["backbone"]
    heads = "-".join(sorted({h["type"] for h in model_cfg["heads"].values()}))
    name = f"LPA_{backbone['type']}{backbone.get('variant', '')}_{heads}"
    return f"{name}_{Path(checkpoint).stem}" if checkpoint is not None else name


def predict_source(
    inferencer: Inferencer | TopDownInferencer, source: FrameSource, batch_size: int = 8, progress: bool = True
) -> dict[str, np.ndarray]:
    """``{"keypoints": [F, N, K, 3]}`` (x, y, likelihood) for every frame of ``source``, streamed
    (plus ``"unique_keypoints" [F, 1, U, 3]`` for models with a unique-bodypart head)."""
    results: dict[str, list[np.ndarray]] = {}
    with tqdm(total=len(source), unit="frame", desc=source.stem, disable=not progress) as bar:
        for frames in prefetch(batched(source.frames(), batch_size)):
            for key, value in inferencer.predict(frames).items():
                results.setdefault(key, []).append(value.cpu().numpy())
            bar.update(len(frames))
    if not results:
        raise ValueError(f"{source.path}: no frames could be read")
    return {key: np.concatenate(values).astype(np.float64) for key, values in results.items()}


def build_inferencer(
    module: PoseLitModule, checkpoint: str | Path, detector: str | Path | None, device: str, trust_checkpoint: bool,
    flip_test: bool = False, precision: str = "32-true",
) -> Inferencer | TopDownInferencer:
    """Whole-frame inference, or detector → crops → pose for a model trained on top-down crops."""
    top_down = bool(module.dataset_info.get("top_down"))
    if top_down and detector is None:
        raise ConfigError(f"{checkpoint} is a top-down model (trained on crops of each individual): pass a detector "
                          "checkpoint (lpa analyze --detector DETECTOR.ckpt; train one with `lpa detector fit`)")
    if not top_down and detector is not None:
        raise ConfigError(f"{checkpoint} was trained on whole frames: --detector is only for top-down models "
                          "(trained with data.crop)")
    if detector is None:
        return Inferencer(module, flip_test=flip_test, precision=precision)
    return TopDownInferencer(module, load_detector(detector, device, trust_checkpoint), flip_test=flip_test,
                             precision=precision)


def write_source_outputs(
    module: PoseLitModule, source: FrameSource, predictions: dict[str, np.ndarray], stem: Path, scorer: str,
    tracker: BaseTracker | None,
) -> list[Path]:
    """Write one source's table (``<stem>.h5/.csv``); videos of multi-animal models are tracked with ``tracker``
    and their untracked detections kept in ``<stem>_detections.h5``. Returns the written paths."""
    info = module.dataset_info
    index = list(range(len(predictions["keypoints"]))) if source.is_video else source.index()
    track = source.is_video and is_multi_animal(info)
    keypoints = identities(predictions["keypoints"], len(info["individuals"]), tracker if track else None)
    table = predictions_to_table(keypoints, index, info["bodyparts"], info["individuals"], scorer,
                                 predictions.get("unique_keypoints"), info.get("unique_bodyparts") or ())
    written = write_predictions(table, stem)
    if track:
        written.append(write_detections(stem, predictions, info, scorer, index))
    return written


def analyze(
    checkpoint: str | Path,
    paths: list[str | Path],
    out_dir: str | Path | None = None,
    batch_size: int = 8,
    device: str = "auto",
    progress: bool = True,
    trust_checkpoint: bool = False,
    detector: str | Path | None = None,
    tracker: str | Path | Mapping[str, Any] | None = None,
    flip_test: bool = False,
    overwrite: bool = False,
    dlc_compatible: bool | None = None,
    scorer: str | None = None,
    shard: Shard | None = None,
    precision: str = "32-true",
) -> list[Path]:
    """Analyze every video / image set in ``paths``; return the written files.

    For each source, writes ``<stem>_<model name>.h5`` and ``.csv`` next to it
    (or into ``out_dir``): MultiIndex columns ``scorer / [individuals /]
    bodyparts / coords`` (x, y, likelihood) in the frames' pixels, rows
    frame numbers (videos) or file names (images), written atomically. ``trust_checkpoint``: see
    :func:`~lightning_pose_arch.inference.runner.load_module`. A top-down pose model (``data.crop``)
    needs ``detector``, from ``lpa detector fit`` (:class:`~lightning_pose_arch.inference.topdown.TopDownInferencer`).

    Videos of multi-animal models are tracked: the table's individuals are stable identities
    named as in the project (``tracker``: ``None`` for the default
    :class:`~lightning_pose_arch.tracking.KalmanTracker`, a name, a dict, YAML/JSON text or
    file, or ``"none"`` for best-first columns). Their untracked detections are kept in
    ``<stem>_<model name>_detections.h5`` for ``lpa track`` (see :mod:`lightning_pose_arch.tracking.io`).
    ``flip_test`` averages each prediction with the one on the mirrored frame (left/right swapped;
    single-individual heads).

    Two inputs that would write the same files are refused before any work; sources whose
    tables exist are skipped unless ``overwrite``. ``dlc_compatible`` (default: when the model
    was trained on a DeepLabCut project) names the files ``<stem><DLC scorer>.h5`` and writes
    ``<stem><DLC scorer>_meta.pickle`` beside videos, as DeepLabCut does (see
    :mod:`~lightning_pose_arch.inference.dlc_compat`); ``scorer`` overrides the scorer name.

    ``shard`` (e.g. ``Shard.from_environment()`` under ``torchrun`` or a SLURM array) analyzes only
    this process's share of the sources (see :mod:`~lightning_pose_arch.inference.shards`); the other
    processes write the rest, with the same names and contents as a single-process run.
    ``precision`` runs the network in ``bf16-mixed`` or ``16-mixed`` autocast (keypoints decoded in float32).
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    sources = collect_sources(paths)
    bases = check_distinct_outputs(sources, out_dir)
    built_tracker = build_tracker(tracker)  # before the network runs: a bad tracker config fails at once
    module = load_module(checkpoint, device, trust_checkpoint)
    inferencer = build_inferencer(module, checkpoint, detector, device, trust_checkpoint, flip_test, precision)
    dlc_compatible = dlc_project(module) is not None if dlc_compatible is None else dlc_compatible
    scorer = scorer or (dlc_scorer(module, checkpoint) if dlc_compatible else model_name(module, checkpoint))
    written: list[Path] = []
    for source, stem in pending_sources(sources, [output_stem(base, scorer, dlc_compatible) for base in bases],
                                        overwrite, shard):
        written += analyze_source(module, inferencer, source, stem, scorer, built_tracker, batch_size, progress,
                                  dlc_meta=dlc_compatible and source.is_video)
    return written


def pending_sources(
    sources: list[FrameSource], stems: list[Path], overwrite: bool, shard: Shard | None
) -> list[tuple[FrameSource, Path]]:
    """``(source, output stem)`` pairs this process analyzes: its shard's, less those already written (unless
    ``overwrite``; each skip is announced)."""
    chosen = range(len(sources)) if shard is None else shard.select([len(source) for source in sources])
    pending = []
    for source, stem in ((sources[i], stems[i]) for i in chosen):
        if not overwrite and outputs_exist(stem):
            print(f"skipped {source.path}: {stem}.h5 exists (--overwrite to analyze it again)", file=sys.stderr)
        else:
            pending.append((source, stem))
    return pending


def analyze_source(
    module: PoseLitModule, inferencer: Inferencer | TopDownInferencer, source: FrameSource, stem: Path, scorer: str,
    tracker: BaseTracker | None, batch_size: int, progress: bool, dlc_meta: bool,
) -> list[Path]:
    """Predict every frame of ``source`` and write its outputs (``dlc_meta``: also DeepLabCut's ``_meta.pickle``)."""
    start = time.time()
    predictions = predict_source(inferencer, source, batch_size, progress)
    warn_if_truncated(source, len(predictions["keypoints"]))
    written = write_source_outputs(module, source, predictions, stem, scorer, tracker)
    if dlc_meta:
        meta = dlc_metadata(module, scorer, fps=source.fps, frame_size=source.frame_size,
                            num_frames=len(predictions["keypoints"]), batch_size=batch_size,
                            runtime=(start, time.time()))
        written.append(write_meta_pickle(meta, stem.with_name(f"{stem.name}_meta.pickle")))
    return written
