"""Random access to runs of consecutive video frames, decoded on the CPU.

PyAV (FFmpeg) seeks to the keyframe before the wanted frame and decodes
forward, so reading a clip costs at most one group of pictures and memory
stays flat however long the video. OpenCV is the fallback when PyAV is not
installed. Frame numbers count from 0 in presentation order; constant frame
rate is assumed (frame ``i`` is at ``start + i / fps``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

try:
    import av
except ImportError:  # OpenCV fallback
    av = None


class VideoReader:
    """Frames ``[T, H, W, 3]`` uint8 RGB of one video file, by frame number.

    The file is opened lazily, on first read in each process, so a reader can be sent to
    DataLoader workers (each opens its own handle).

    Args:
        path: Video file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._container = None
        self.num_frames, self.width, self.height = probe_video(self.path)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_container": None}  # open handles do not cross process boundaries

    def read_clip(self, start: int, length: int) -> np.ndarray:
        """Frames ``start … start + length - 1`` as ``[length, H, W, 3]`` uint8 RGB."""
        if start < 0 or start + length > self.num_frames:
            raise IndexError(f"{self.path}: frames {start}..{start + length - 1} are outside 0..{self.num_frames - 1}")
        frames = self._read_pyav(start, length) if av is not None else self._read_opencv(start, length)
        if len(frames) != length:
            raise OSError(f"{self.path}: decoded {len(frames)} of the {length} frames from frame {start}; "
                          "the file may be truncated or have a variable frame rate")
        return np.stack(frames)

    def _read_pyav(self, start: int, length: int) -> list[np.ndarray]:
        if self._container is None:
            self._container = av.open(str(self.path))
        stream = self._container.streams.video[0]
        seconds_per_frame = 1 / stream.average_rate
        offset = stream.start_time or 0
        self._container.seek(offset + int(start * seconds_per_frame / stream.time_base), stream=stream, backward=True)
        frames = []
        for frame in self._container.decode(stream):
            index = round((frame.pts - offset) * stream.time_base / seconds_per_frame)
            if index >= start:
                frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == length:
                break
        return frames

    def _read_opencv(self, start: int, length: int) -> list[np.ndarray]:
        capture = cv2.VideoCapture(str(self.path))
        try:
            capture.set(cv2.CAP_PROP_POS_FRAMES, start)
            frames = []
            for _ in range(length):
                ok, frame = capture.read()
                if not ok:
                    break
                frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            return frames
        finally:
            capture.release()


def probe_video(path: Path) -> tuple[int, int, int]:
    """``(frame count, width, height)`` of ``path``; raise naming the file when it cannot be read as a video."""
    if not path.is_file():
        raise FileNotFoundError(f"unlabeled video {path} does not exist")
    if av is not None:
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                frames = stream.frames or int(stream.duration * stream.time_base * stream.average_rate)
                return frames, stream.codec_context.width, stream.codec_context.height
        except (av.FFmpegError, IndexError, TypeError) as err:
            raise OSError(f"{path} cannot be read as a video ({type(err).__name__}: {err})") from err
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise OSError(f"{path} cannot be read as a video by OpenCV")
        return (int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        capture.release()
