import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from helpers import VIDEO_FRAMES
from lightning_pose_arch.cli import main
from lightning_pose_arch.data.dataset import read_image
from lightning_pose_arch.inference.analyze import analyze
from lightning_pose_arch.inference.runner import Inferencer, load_module
from lightning_pose_arch.registry import ConfigError


def test_analyze_video_writes_dlc_tables(checkpoint: Path, synthetic_video: Path, tmp_path: Path) -> None:
    written = analyze(checkpoint, [synthetic_video], out_dir=tmp_path, batch_size=4, device="cpu", progress=False,
                      dlc_compatible=False)
    assert [p.suffix for p in written] == [".h5", ".csv"]
    assert written[0].name.startswith("clip_LPA_CSPNeXts_HeatmapHead_tiny")
    table = pd.read_hdf(written[0])
    scorer = table.columns.get_level_values("scorer")[0]
    expected = pd.MultiIndex.from_product(
        [[scorer], ["snout", "leftear", "rightear", "tailbase"], ["x", "y", "likelihood"]],
        names=["scorer", "bodyparts", "coords"],
    )
    assert table.columns.equals(expected)
    assert list(table.index) == list(range(VIDEO_FRAMES))
    csv = pd.read_csv(written[1], header=[0, 1, 2], index_col=0)
    np.testing.assert_allclose(csv.to_numpy(), table.to_numpy())


def test_video_and_images_give_the_same_keypoints_as_the_inferencer(
    checkpoint: Path, synthetic_project: Path, tmp_path: Path
) -> None:
    folder = synthetic_project / "labeled-data" / "synthvideo"
    # batch_size=1: the same arithmetic as the single-frame call below (the barely trained
    # fixture's heatmaps are nearly flat, so batched float rounding could move an argmax).
    written = analyze(checkpoint, [folder], out_dir=tmp_path, batch_size=1, device="cpu", progress=False)
    table = pd.read_hdf(written[0])
    assert table.index[0] == "img0000.png" and len(table) == 16
    frame = read_image(folder / "img0000.png")
    assert frame.flags.writeable  # torch.from_numpy warns on read-only arrays
    direct = Inferencer(load_module(checkpoint, "cpu"))(frame[None])[0, 0].numpy()
    np.testing.assert_allclose(table.iloc[0].to_numpy().reshape(4, 3), direct, atol=1e-4)


def test_label_video_and_plot_commands(checkpoint: Path, synthetic_video: Path, tmp_path: Path) -> None:
    main(["analyze", str(synthetic_video), "--checkpoint", str(checkpoint), "--out", str(tmp_path), "--device", "cpu"])
    predictions = next(tmp_path.glob("*.h5"))
    main(["label-video", str(synthetic_video), "--predictions", str(predictions), "--pcutoff", "0.0",
          "--checkpoint", str(checkpoint)])
    labeled = predictions.with_name(predictions.stem + "_labeled.mp4")
    capture = cv2.VideoCapture(str(labeled))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == VIDEO_FRAMES
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape == (96, 128, 3)
    main(["plot", str(predictions)])
    assert predictions.with_name(predictions.stem + "_trajectories.png").stat().st_size > 5000
    assert predictions.with_name(predictions.stem + "_likelihood.png").stat().st_size > 5000


@pytest.mark.parametrize("export_format", ["onnx", "torchscript"])
def test_export_parity(checkpoint: Path, synthetic_video: Path, tmp_path: Path, export_format: str, capsys) -> None:
    out = tmp_path / f"model.{'onnx' if export_format == 'onnx' else 'pt'}"
    main(["export", "--checkpoint", str(checkpoint), "--format", export_format, "--out", str(out),
          "--check", str(synthetic_video)])
    assert out.is_file() and out.with_name(out.name + ".json").is_file()
    error = float(capsys.readouterr().out.split("max |Δ| = ")[1].split()[0])
    assert error < 1e-3


def test_exported_onnx_takes_raw_frames_of_any_batch_and_size(checkpoint: Path, tmp_path: Path) -> None:
    import onnxruntime

    from lightning_pose_arch.inference.export import export_model

    module = load_module(checkpoint, "cpu")
    path = export_model(module, tmp_path / "m.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for batch, height, width in ((1, 96, 128), (3, 61, 97), (2, 481, 641)):
        frames = rng.integers(0, 256, size=(batch, height, width, 3), dtype=np.uint8)
        (keypoints,) = session.run(None, {"frames": frames})
        assert keypoints.shape == (batch, 1, 4, 3)
        np.testing.assert_allclose(keypoints, Inferencer(module)(frames).numpy(), atol=1e-3, rtol=0)


def test_unreadable_inputs_are_named(checkpoint: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(OSError, match="broken.mp4 cannot be opened"):
        analyze(checkpoint, [broken], progress=False)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        analyze(checkpoint, [tmp_path / "missing.mp4"], progress=False)
    with pytest.raises(ValueError, match="notes.txt"):
        (tmp_path / "notes.txt").write_text("x")
        analyze(checkpoint, [tmp_path / "notes.txt"], progress=False)


def test_mixed_precision_runs_the_network_and_decodes_in_float32(checkpoint: Path, synthetic_video: Path,
                                                                 tmp_path: Path, monkeypatch) -> None:
    module = load_module(checkpoint, "cpu")
    seen = []
    head = module.model.heads["bodypart"]
    original = head.predict
    monkeypatch.setattr(head, "predict", lambda outputs, stride: seen.append(outputs["heatmap"].dtype) or
                        original(outputs, stride))
    frames = np.random.default_rng(0).integers(0, 256, (2, 96, 128, 3), dtype=np.uint8)
    keypoints = Inferencer(module, precision="bf16-mixed")(frames)
    assert keypoints.dtype == torch.float32 and keypoints.shape == (2, 1, 4, 3)
    assert seen == [torch.float32]  # the bf16 network output is decoded in float32
    with pytest.raises(ConfigError, match="--precision must be one of"):
        Inferencer(module, precision="bf16")
    run = subprocess.run([str(Path(sys.executable).with_name("lpa")), "analyze", str(synthetic_video), "--checkpoint",
                          str(checkpoint), "--device", "cpu", "--out", str(tmp_path), "--precision", "bf16-mixed"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert len(list(tmp_path.glob("*.h5"))) == 1
