"""Frame sources for inference: videos, image files and folders of images, streamed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lightning_pose_arch.data.dataset import read_image

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".m4v", ".wmv"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


@dataclass(frozen=True)
class FrameSource:
    """Frames of one video, or of a set of images analyzed together.

    Attributes:
        path: The video file, image file or folder the user named.
        stem: Output file stem (``<stem>_<model>.h5``).
        image_files: For image sources, the files in order; empty for videos.
        max_frames: Stop after this many frames (``None``: all).
    """

    path: Path
    stem: str
    image_files: tuple[Path, ...] = ()
    max_frames: int | None = None

    @property
    def is_video(self) -> bool:
        return not self.image_files

    def __len__(self) -> int:
        total = len(self.image_files) if self.image_files else _video_frame_count(self.path)
        return total if self.max_frames is None else min(total, self.max_frames)

    @property
    def fps(self) -> float:
        if not self.is_video:
            return 1.0
        capture = cv2.VideoCapture(str(self.path))
        try:
            return float(capture.get(cv2.CAP_PROP_FPS) or 30.0)
        finally:
            capture.release()

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(width, height)`` of a video's frames, from its header."""
        capture = _open_video(self.path)
        try:
            return int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        finally:
            capture.release()

    def index(self) -> list[str] | list[int]:
        """Table row labels: frame numbers for videos, file names for images."""
        return list(range(len(self))) if self.is_video else [f.name for f in self.image_files]

    def frames(self) -> Iterator[np.ndarray]:
        """Frames as ``[H, W, 3]`` uint8 RGB, one at a time (memory stays flat)."""
        frames = (read_image(f) for f in self.image_files) if self.image_files else self._video_frames()
        yield from itertools.islice(frames, self.max_frames)

    def _video_frames(self) -> Iterator[np.ndarray]:
        capture = _open_video(self.path)
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()


def _open_video(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise OSError(f"video file {path} cannot be opened (missing, corrupt or an unsupported codec)")
    return capture


def _video_frame_count(path: Path) -> int:
    capture = _open_video(path)
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


def collect_sources(paths: list[str | Path]) -> list[FrameSource]:
    """One source per video, one per folder of images; loose image files form one source per folder they are in."""
    sources: list[FrameSource] = []
    loose_images: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
        suffix = path.suffix.lower()
        if path.is_dir():
            images = tuple(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
            videos = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
            if not images and not videos:
                raise ValueError(f"folder {path} holds no images ({sorted(IMAGE_SUFFIXES)}) or videos")
            sources += [FrameSource(v, v.stem) for v in videos]
            if images:
                sources.append(FrameSource(path, path.name, images))
        elif suffix in VIDEO_SUFFIXES:
            _video_frame_count(path)  # fail now, naming the file, not mid-run
            sources.append(FrameSource(path, path.stem))
        elif suffix in IMAGE_SUFFIXES:
            loose_images.append(path)
        else:
            raise ValueError(f"{path}: not a video ({sorted(VIDEO_SUFFIXES)}), image ({sorted(IMAGE_SUFFIXES)}) or folder")
    for folder, images in itertools.groupby(sorted(loose_images, key=lambda p: p.parent), key=lambda p: p.parent):
        sources.append(FrameSource(folder, folder.name, tuple(images)))  # rows are file names: one table per folder
    return sources
