"""``lpa analyze | label-video | plot | export | export-nwb``: inference commands (plain argparse, no Trainer)."""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lightning_pose_arch.inference.analyze import analyze
from lightning_pose_arch.inference.export import export_model, parity_error, require_onnx
from lightning_pose_arch.inference.label_video import label_video, table_keypoints
from lightning_pose_arch.inference.plots import plot_trajectories
from lightning_pose_arch.inference.nwb import require_nwb, write_nwb
from lightning_pose_arch.inference.runner import PRECISIONS, load_module
from lightning_pose_arch.inference.shards import Shard, local_device
from lightning_pose_arch.inference.sources import FrameSource, collect_sources
from lightning_pose_arch.inference.tables import read_predictions
from lightning_pose_arch.registry import ConfigError
from lightning_pose_arch.reference import main as reference_main
from lightning_pose_arch.tracking import build_tracker
from lightning_pose_arch.tracking.io import track_detections

PARITY_TOLERANCE_PX = 1e-3
TRACKER_HELP = ("multi-animal videos: a tracker name (KalmanTracker), a YAML/JSON dict ('{type: KalmanTracker, "
                "max_gap: 50}') or file, or 'none' (best-first columns, no identities); default: KalmanTracker")
TRUST_HELP = ("unpickle arbitrary objects in the checkpoint (can run code: only for files you trust); "
              "by default only tensors and plain containers are loaded")


def _shard(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except ConfigError as err:  # argparse shows an ArgumentTypeError's own message
        raise argparse.ArgumentTypeError(str(err)) from err


def _tracker(text: str) -> str:
    """A ``--tracker`` value, checked while the arguments are parsed (a usage error, before any file is read)."""
    try:
        build_tracker(text)
    except (ConfigError, ValueError, TypeError) as err:
        raise argparse.ArgumentTypeError(str(err)) from err
    return text


def analyze_command(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="lpa analyze", description=analyze.__doc__)
    parser.add_argument("paths", nargs="+", help="videos, images or folders")
    parser.add_argument("--checkpoint", required=True, help="training checkpoint (.ckpt)")
    parser.add_argument("--out", default=None, help="output folder (default: next to each input)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument("--detector", default=None,
                        help="detector checkpoint (lpa detector fit) for a top-down pose model")
    parser.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    parser.add_argument("--tracker", type=_tracker, default=None, help=TRACKER_HELP)
    parser.add_argument("--flip-test", action="store_true",
                        help="average each prediction with the one on the mirrored frame (single-animal heads)")
    parser.add_argument("--overwrite", action="store_true", help="analyze again inputs whose tables exist")
    parser.add_argument("--dlc-compatible", action=argparse.BooleanOptionalAction, default=None,
                        help="name files <stem><DLC scorer>.h5 and write _meta.pickle as DeepLabCut does "
                             "(default: when the model was trained on a DeepLabCut project)")
    parser.add_argument("--scorer", default=None,
                        help="scorer name in the file names and table header, e.g. the one DeepLabCut computes "
                             "for your shuffle, so its config-driven tools pick these files up")
    parser.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                        help="analyze only share I of N of the inputs (0-based); default: the share of this torchrun "
                             "rank or SLURM array task, if launched so, else all")
    parser.add_argument("--precision", default="32-true", choices=list(PRECISIONS),
                        help="the network's arithmetic: mixed precision (autocast) is faster on recent GPUs; "
                             "keypoints are decoded in float32 either way")
    options = parser.parse_args(args)
    shard = options.shard or Shard.from_environment()
    for path in analyze(options.checkpoint, options.paths, options.out, options.batch_size, local_device(options.device),
                        trust_checkpoint=options.trust_checkpoint, detector=options.detector,
                        tracker=options.tracker, flip_test=options.flip_test, overwrite=options.overwrite,
                        dlc_compatible=options.dlc_compatible, scorer=options.scorer, shard=shard,
                        precision=options.precision):
        print(f"wrote {path}")


def track_command(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="lpa track", description=track_detections.__doc__)
    parser.add_argument("detections", nargs="+", type=Path, help="<video>_<model>_detections.h5 from lpa analyze")
    parser.add_argument("--tracker", type=_tracker, default=None, help=TRACKER_HELP)
    parser.add_argument("--out", default=None, help="output folder (default: next to each detections file)")
    options = parser.parse_args(args)
    for detections in options.detections:
        for path in track_detections(detections, options.tracker, options.out):
            print(f"wrote {path}")


def label_video_command(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="lpa label-video", description=label_video.__doc__)
    parser.add_argument("video")
    parser.add_argument("--predictions", required=True, help=".h5/.csv written by lpa analyze")
    parser.add_argument("--out", default=None, help="output .mp4 (default: next to the predictions)")
    parser.add_argument("--pcutoff", type=float, default=0.4)
    parser.add_argument("--checkpoint", default=None, help="take the skeleton from this checkpoint")
    parser.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    options = parser.parse_args(args)
    module = load_module(options.checkpoint, "cpu", options.trust_checkpoint) if options.checkpoint else None
    skeleton = module.dataset_info["skeleton"] if module is not None else None
    print(f"wrote {label_video(options.video, options.predictions, options.out, skeleton, options.pcutoff)}")


def plot_command(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="lpa plot", description=plot_trajectories.__doc__)
    parser.add_argument("predictions", type=Path, help=".h5/.csv written by lpa analyze")
    parser.add_argument("--pcutoff", type=float, default=0.4)
    options = parser.parse_args(args)
    keypoints, bodyparts = table_keypoints(read_predictions(options.predictions))
    for path in plot_trajectories(keypoints, bodyparts, options.predictions.with_suffix(""), options.pcutoff):
        print(f"wrote {path}")


def export_command(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="lpa export", description=export_model.__doc__)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--format", choices=["onnx", "torchscript"], default="onnx")
    parser.add_argument("--out", type=Path, default=None, help="default: the checkpoint path with .onnx / .pt")
    parser.add_argument("--check", nargs="*", default=None,
                        help="frames (videos/images) for the parity check (default: random images)")
    parser.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    options = parser.parse_args(args)
    if options.format == "onnx":
        require_onnx()  # before loading anything
    module = load_module(options.checkpoint, "cpu", options.trust_checkpoint)
    out = options.out or Path(options.checkpoint).with_suffix(".onnx" if options.format == "onnx" else ".pt")
    path = export_model(module, out, options.format)
    images = _parity_images(module, options.check)
    error = parity_error(module, path, images)
    print(f"wrote {path}; parity vs eager PyTorch on {len(images)} images: max |Δ| = {error:.2e}")
    if error > PARITY_TOLERANCE_PX:
        raise SystemExit(f"export parity check failed: {error:.2e} > {PARITY_TOLERANCE_PX}")


def export_nwb_command(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="lpa export-nwb", description=write_nwb.__doc__)
    parser.add_argument("predictions", type=Path, help=".h5/.csv written by lpa analyze for the video")
    parser.add_argument("--video", required=True, type=Path, help="the analyzed video (rate, size, source)")
    parser.add_argument("--out", type=Path, default=None, help="output .nwb (default: the predictions path with .nwb)")
    parser.add_argument("--session-start", type=datetime.datetime.fromisoformat, default=None,
                        help="recording start, ISO 8601 (default: the video file's modification time, UTC)")
    parser.add_argument("--subject-id", default=None)
    parser.add_argument("--species", default=None, help='e.g. "Mus musculus"')
    parser.add_argument("--age", default=None, help="ISO 8601 duration, e.g. P90D (DANDI asks for it)")
    parser.add_argument("--sex", default="U", choices=["M", "F", "U", "O"])
    parser.add_argument("--checkpoint", default=None, help="take the skeleton from this checkpoint")
    parser.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    options = parser.parse_args(args)
    require_nwb()
    source = FrameSource(options.video, options.video.stem)
    module = load_module(options.checkpoint, "cpu", options.trust_checkpoint) if options.checkpoint else None
    start = options.session_start or datetime.datetime.fromtimestamp(options.video.stat().st_mtime, datetime.timezone.utc)
    path = write_nwb(read_predictions(options.predictions), options.out or options.predictions.with_suffix(".nwb"),
                     video=options.video, fps=source.fps, frame_size=source.frame_size, session_start=start,
                     skeleton=module.dataset_info["skeleton"] if module is not None else (),
                     subject_id=options.subject_id, species=options.species, age=options.age, sex=options.sex)
    print(f"wrote {path}")


def _parity_images(module, paths: list[str] | None, count: int = 4) -> np.ndarray:
    """``[B, H0, W0, 3]`` uint8 frames: the first frames of ``paths``, else random frames of an odd size."""
    if not paths:
        height, width = module.dataset_info["image_size"]
        generator = np.random.default_rng(0)
        return generator.integers(0, 256, size=(count, height * 2 + 1, width * 2 - 3, 3), dtype=np.uint8)
    frames = [frame for source in collect_sources(paths) for frame, _ in zip(source.frames(), range(count))][:count]
    return np.stack([frame for frame in frames if frame.shape == frames[0].shape])


COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "analyze": analyze_command,
    "track": track_command,
    "label-video": label_video_command,
    "plot": plot_command,
    "export": export_command,
    "export-nwb": export_nwb_command,
    "registry": reference_main,
}
