"""``lpa analyze`` output planning: collisions refused first, one table per image folder, skips, short videos."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from lightning_pose_arch.inference.analyze import analyze
from lightning_pose_arch.inference.sources import collect_sources


def test_two_inputs_writing_the_same_file_are_refused_before_any_work(synthetic_video: Path, tmp_path: Path) -> None:
    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        shutil.copy(synthetic_video, tmp_path / day / "session.mp4")
    missing_checkpoint = tmp_path / "not_loaded.ckpt"  # refused before the checkpoint is even opened
    with pytest.raises(ValueError, match=r"day1/session.mp4 and .*day2/session.mp4 would both write"):
        analyze(missing_checkpoint, [tmp_path / "day1/session.mp4", tmp_path / "day2/session.mp4"],
                out_dir=tmp_path / "out", progress=False)


def test_loose_images_make_one_table_per_folder(checkpoint: Path, synthetic_project: Path, tmp_path: Path) -> None:
    images = sorted((synthetic_project / "labeled-data" / "synthvideo").glob("*.png"))
    for camera, chosen in (("camA", images[:3]), ("camB", images[3:5])):
        (tmp_path / camera).mkdir()
        for image in chosen:
            shutil.copy(image, tmp_path / camera / image.name)
    inputs = [*sorted((tmp_path / "camA").glob("*.png")), *sorted((tmp_path / "camB").glob("*.png"))]
    assert [(s.stem, len(s.image_files)) for s in collect_sources(inputs)] == [("camA", 3), ("camB", 2)]
    written = analyze(checkpoint, inputs, device="cpu", progress=False, dlc_compatible=False)
    tables = {p.parent.name: pd.read_hdf(p) for p in written if p.suffix == ".h5"}
    assert list(tables["camA"].index) == ["img0000.png", "img0001.png", "img0002.png"]
    assert list(tables["camB"].index) == ["img0003.png", "img0004.png"]


def test_existing_outputs_are_skipped_unless_overwrite(checkpoint: Path, synthetic_video: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    first = analyze(checkpoint, [synthetic_video], out_dir=tmp_path, device="cpu", progress=False)
    stamp = first[0].stat().st_mtime_ns
    assert analyze(checkpoint, [synthetic_video], out_dir=tmp_path, device="cpu", progress=False) == []
    assert "skipped" in capsys.readouterr().err and first[0].stat().st_mtime_ns == stamp
    again = analyze(checkpoint, [synthetic_video], out_dir=tmp_path, device="cpu", progress=False, overwrite=True)
    assert again == first and first[0].stat().st_mtime_ns > stamp


def test_video_shorter_than_its_header_warns_naming_file_and_last_frame(checkpoint: Path, tmp_path: Path) -> None:
    video = tmp_path / "cut.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (128, 96))
    for frame in np.random.default_rng(0).integers(0, 255, (10, 96, 128, 3), dtype=np.uint8):
        writer.write(frame)
    writer.release()
    video.write_bytes(video.read_bytes()[: int(video.stat().st_size * 0.6)])  # header still says 10 frames
    with pytest.warns(UserWarning, match=r"cut.avi: its header says 10 frames, but only 6 could be read "
                                         r"\(last frame read: 5\)"):
        written = analyze(checkpoint, [video], device="cpu", progress=False, dlc_compatible=False)
    assert len(pd.read_hdf(written[0])) == 6
