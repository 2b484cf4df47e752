"""Unlabeled clips: consecutive frames, one augmentation per clip, exact undo, seek-based reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import write_video
from lightning_pose_arch.data import video_reader
from lightning_pose_arch.data.transforms import KeypointTransform
from lightning_pose_arch.data.video_clips import UnlabeledConfig, VideoClipDataset, find_videos, input_to_video
from lightning_pose_arch.models.coordinates import resize_matrix, transform_keypoints
from lightning_pose_arch.data.video_reader import VideoReader

FRAMES, WIDTH, HEIGHT = 40, 96, 64
BLOB_START, BLOB_Y = (20.0, 30.5)  # the blob moves +1 px in x per frame


def blob_frames() -> np.ndarray:
    """``[FRAMES, H, W, 3]``: a Gaussian blob at (BLOB_START + t, BLOB_Y) on black."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    frames = [np.exp(-((xs - BLOB_START - t) ** 2 + (ys - BLOB_Y) ** 2) / (2 * 2.5**2)) * 250 for t in range(FRAMES)]
    return np.repeat(np.stack(frames).round().astype(np.uint8)[..., None], 3, axis=-1)


@pytest.fixture(scope="module")
def blob_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "blob.mp4", blob_frames())


def centroid(frame: np.ndarray) -> np.ndarray:
    """Intensity-weighted (x, y) of ``[H, W]``, pixel centers at integers."""
    weights = frame.astype(np.float64)
    ys, xs = np.mgrid[0 : frame.shape[0], 0 : frame.shape[1]]
    return np.array([(weights * xs).sum(), (weights * ys).sum()]) / weights.sum()


def test_reader_seeks_to_any_start_and_returns_consecutive_frames(blob_video: Path) -> None:
    reader = VideoReader(blob_video)
    assert (reader.num_frames, reader.width, reader.height) == (FRAMES, WIDTH, HEIGHT)
    for start in (0, 13, 7, 35):  # out of order, mid-GOP and the last possible clip
        clip = reader.read_clip(start, 5)
        assert clip.shape == (5, HEIGHT, WIDTH, 3)
        xs = [centroid(frame[..., 0])[0] for frame in clip]
        assert xs == pytest.approx([BLOB_START + start + t for t in range(5)], abs=0.05)
    with pytest.raises(IndexError, match="outside 0..39"):
        reader.read_clip(37, 5)


def test_opencv_fallback_reads_the_same_frames(blob_video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = VideoReader(blob_video).read_clip(10, 3)
    monkeypatch.setattr(video_reader, "av", None)
    fallback = VideoReader(blob_video)
    assert fallback.num_frames == FRAMES
    assert np.abs(fallback.read_clip(10, 3).astype(int) - expected).max() <= 2


def test_undo_is_exact() -> None:
    rng = np.random.default_rng(0)
    cfg = UnlabeledConfig(videos=["x.mp4"], rotation=30, scale=0.2, translate=0.1, affine_p=1.0)
    transform = KeypointTransform((64, 128), cfg.augmentation)
    matrices = torch.stack([transform.sample_matrix(resize_matrix((480, 640), (64, 128)), rng)[0] for _ in range(4)])
    assert not torch.allclose(matrices[0], matrices[1])  # one draw per clip
    video_points = torch.rand(4, 5, 7, 2, dtype=torch.float64) * torch.tensor([640.0, 480.0])
    input_points = transform_keypoints(torch.cat([video_points, torch.ones(4, 5, 7, 1, dtype=torch.float64)], -1),
                                       matrices)[..., :2].float()
    scores = torch.rand(4, 5, 7, 1)
    back = input_to_video(torch.cat([input_points, scores], dim=-1), matrices)
    assert (back[..., :2] - video_points.float()).abs().max().item() < 1e-3
    assert torch.equal(back[..., 2:], scores)


def test_clip_augmentation_ranges_are_checked() -> None:
    with pytest.raises(ValueError, match="augmentation scale and translate must be in"):
        UnlabeledConfig(videos=["x.mp4"], scale=1.5)


def test_clip_is_consecutive_with_one_augmentation_undone_on_content(blob_video: Path) -> None:
    cfg = UnlabeledConfig(videos=[str(blob_video)], clip_length=6, rotation=20, scale=0.15, translate=0.05,
                          affine_p=1.0)
    dataset = VideoClipDataset([blob_video], image_size=(64, 128), cfg=cfg)
    rng = np.random.default_rng(3)
    for _ in range(3):
        clip = dataset.clip(rng)
        assert clip["frames"].shape == (6, 3, 64, 128) and clip["frames"].dtype == torch.uint8
        found = torch.tensor(np.stack([centroid(frame[0].numpy()) for frame in clip["frames"]]))
        back = input_to_video(found[None], clip["matrix"][None])[0]  # one matrix undoes every frame
        expected = torch.tensor([[BLOB_START + clip["start"] + t, BLOB_Y] for t in range(6)], dtype=back.dtype)
        assert (back - expected).abs().max().item() < 0.3


def test_positions_cover_every_video_and_iteration_follows_torch_seed(blob_video: Path, tmp_path: Path) -> None:
    short = write_video(tmp_path / "short.mp4", blob_frames()[:10])
    cfg = UnlabeledConfig(videos=[str(tmp_path)], clip_length=4)
    dataset = VideoClipDataset(find_videos(cfg.videos) + [blob_video], image_size=(64, 96), cfg=cfg)
    assert dataset.video_probabilities.tolist() == pytest.approx([7 / 44, 37 / 44])
    torch.manual_seed(1)
    first = [(c["video"], c["start"]) for c, _ in zip(dataset, range(20))]
    torch.manual_seed(1)
    again = [(c["video"], c["start"]) for c, _ in zip(dataset, range(20))]
    assert first == again and {video for video, _ in first} == {0, 1}
    assert all(start <= (6 if video == 0 else 36) for video, start in first)
    assert short.is_file()


def test_bad_unlabeled_config_fails_early(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="clip_length must be >= 2"):
        UnlabeledConfig(videos=["a.mp4"], clip_length=1)
    with pytest.raises(FileNotFoundError, match="missing.mp4 does not exist"):
        find_videos([str(tmp_path / "missing.mp4")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="has no"):
        find_videos([str(tmp_path / "empty")])
