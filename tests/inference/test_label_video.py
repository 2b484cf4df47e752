"""``lpa label-video`` reads every table layout we write and refuses tables that do not fit the video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lightning_pose_arch.inference.label_video import label_video
from lightning_pose_arch.inference.tables import predictions_to_table, write_predictions

FRAMES, HEIGHT, WIDTH = 10, 96, 128


@pytest.fixture(scope="module")
def black_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("black") / "black.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (WIDTH, HEIGHT))
    for _ in range(FRAMES):
        writer.write(np.zeros((HEIGHT, WIDTH, 3), np.uint8))
    writer.release()
    return path


def multi_animal_table(rows: int, path: Path, suffix: str) -> Path:
    """Two individuals × 2 bodyparts at fixed points, plus one unique bodypart at (100, 70); written as ``suffix``."""
    keypoints = np.zeros((rows, 2, 2, 3))
    keypoints[:, 0] = [(20, 20, 0.9), (40, 20, 0.9)]
    keypoints[:, 1] = [(20, 70, 0.9), (40, 70, 0.1)]  # second bodypart below pcutoff: not drawn
    unique = np.tile([[[[100.0, 70.0, 0.9]]]], (rows, 1, 1, 1))
    table = predictions_to_table(keypoints, list(range(rows)), ["nose", "tail"], ["mouse1", "mouse2"], "DLC_x",
                                 unique, ["cork"])
    written = write_predictions(table, path / "black_model")
    return next(p for p in written if p.suffix == suffix)


def frames_of(path: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    return np.stack(frames)


@pytest.mark.parametrize("suffix", [".csv", ".h5"])
def test_multi_animal_table_with_unique_bodyparts_is_drawn(black_video: Path, tmp_path: Path, suffix: str) -> None:
    table = multi_animal_table(FRAMES, tmp_path, suffix)  # the .csv has 4 header rows
    frames = frames_of(label_video(black_video, table, tmp_path / "labeled.mp4", pcutoff=0.4))
    assert frames.shape == (FRAMES, HEIGHT, WIDTH, 3)
    brightness = frames.max(axis=-1).astype(int)
    for x, y in [(20, 20), (40, 20), (20, 70), (100, 70)]:  # both animals and the unique bodypart
        assert brightness[:, y, x].min() > 60, (x, y)
    assert brightness[:, 70, 40].max() < 30  # likelihood 0.1 < pcutoff
    assert brightness[:, 70 - 5, 100 + 5].min() > 60  # a square's corner: unique bodyparts are squares
    assert brightness[:, 20 - 5, 40 + 5].max() < 30  # a dot of radius 5 does not reach its square's corner


@pytest.mark.parametrize(("rows", "message"), [(8, "has 8 rows but .*black.mp4 has at least 9 frames"),
                                               (12, "has 12 rows but .*black.mp4 has 10 frames")])
def test_table_and_video_of_different_lengths_is_an_error(black_video: Path, tmp_path: Path, rows: int,
                                                          message: str) -> None:
    table = multi_animal_table(rows, tmp_path, ".h5")
    with pytest.raises(ValueError, match=message):
        label_video(black_video, table, tmp_path / "labeled.mp4")
    assert not list(tmp_path.glob("*.mp4"))  # no partial video left behind
