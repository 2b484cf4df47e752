"""Bad input, second round (issue 15): every input checked where it enters, nothing lost, nothing leaked.

Error cases run like ``test_bad_input.py``'s: through ``Trainer.fit`` (or ``lpa``) with a callback that
fails the test if a training batch starts, so each error comes before training and names the culprit.
Cases that warn, fall back or set file modes have their own tests below.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from helpers import heatmap_model_cfg, save_untrained_checkpoint
from lightning_pose_arch.cli import main
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.data.formats import read_project, write_coco
from lightning_pose_arch.data.formats.dlc import read_labels, write_table
from lightning_pose_arch.data.images import check_images, image_size, read_image
from lightning_pose_arch.data.split import save_split
from lightning_pose_arch.data.synthetic import make_synthetic_project, write_rgb
from lightning_pose_arch.inference.analyze import analyze
from lightning_pose_arch.inference.runner import load_module
from lightning_pose_arch.lit.checkpoints import AtomicCheckpointIO
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.lit.resume import resume_checkpoint
from lightning_pose_arch.registry import ConfigError
from test_bad_input import FRAMES, IMAGE, LABELS, Case, Ctx, cli_config, edit_config, fit, head, lpa_fit, write_split

FRAME = "labeled-data/synthvideo/img{:04d}.png"


def edit_labels(ctx: Ctx, change) -> None:
    """Rewrite the project's label CSV with ``change(table)`` (a table indexed by image path)."""
    table = read_labels(ctx.project / LABELS)
    write_table(change(table), ctx.project / LABELS)


def set_cell(frame: int, bodypart: str, coord: str, value: object):
    def change(table: pd.DataFrame) -> pd.DataFrame:
        column = next(c for c in table.columns if c[1:] == (bodypart, coord))
        table[column] = table[column].astype(object)
        table.loc[FRAME.format(frame), column] = value
        return table
    return change


def duplicate_row(table: pd.DataFrame) -> pd.DataFrame:
    copy = table.loc[[FRAME.format(4)]].copy()
    copy.iloc[0, 0] += 5.0  # the second row labels the snout elsewhere
    return pd.concat([table, copy])


def blank_all(table: pd.DataFrame) -> pd.DataFrame:
    return table * np.nan


def jpeg_frame(ctx: Ctx, index: int, keep: float = 1.0) -> Path:
    """Turn frame ``index`` into a JPEG (``keep`` of its bytes) and point the label file at it."""
    png = ctx.project / IMAGE.format(index)
    jpeg = png.with_suffix(".jpg")
    write_rgb(jpeg, read_image(png))
    jpeg.write_bytes(jpeg.read_bytes()[: int(len(jpeg.read_bytes()) * keep)])
    png.unlink()
    labels = ctx.project / LABELS
    labels.write_text(labels.read_text().replace(png.name, jpeg.name))
    return jpeg


def coco(ctx: Ctx, change) -> Path:
    """The project as a COCO file beside its images, edited by ``change(content)``."""
    path = write_coco(read_project(ctx.project), ctx.project / "labels.json")
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content))
    return path


def fit_coco(ctx: Ctx, change) -> None:
    fit(replace(ctx, project=coco(ctx, change)))


def set_keypoint(annotation: int, value_index: int, value: object):
    def change(content: dict) -> None:
        content["annotations"][annotation]["keypoints"][value_index] = value
    return change


def same_file_name(content: dict) -> None:
    content["images"][1]["file_name"] = content["images"][0]["file_name"]


def same_image_id(content: dict) -> None:
    content["images"][1]["id"] = content["images"][0]["id"]


def second_annotator(ctx: Ctx, scorer: str = "Alex") -> None:
    shutil.copy(ctx.project / LABELS, ctx.project / FRAMES / f"CollectedData_{scorer}.csv")


def one_frame_project(ctx: Ctx) -> Ctx:
    return replace(ctx, project=make_synthetic_project(ctx.tmp / "one", num_frames=1))


def frames_labeled_twice(ctx: Ctx) -> None:
    other = ctx.project / "labeled-data" / "zcopy"
    other.mkdir()
    shutil.copy(ctx.project / LABELS, other / "CollectedData_synth.csv")


def cut_checkpoint(ctx: Ctx) -> Path:
    path = ctx.tmp / "cut.ckpt"
    path.write_bytes(ctx.checkpoint.read_bytes()[: ctx.checkpoint.stat().st_size // 3])
    return path


def lpa_fit_resuming(ctx: Ctx, ckpt_path: Path) -> None:
    config = ctx.tmp / "run.yaml"
    config.write_text(cli_config(ctx))
    main(["fit", "--config", str(config), "--trainer.default_root_dir", str(ctx.tmp), "--ckpt_path", str(ckpt_path)])


def duplicate_config_key(ctx: Ctx) -> None:
    config = ctx.project / "config.yaml"
    config.write_text(config.read_text() + "bodyparts: [snout]\n")


SPLIT = {"train": [FRAME.format(i) for i in range(10)], "val": [FRAME.format(10), FRAME.format(11)],
         "test": [FRAME.format(i) for i in (3, 12, 13, 14, 15)]}
NUMS = "heads.bodypart"

CASES = [
    # --- images ------------------------------------------------------------------------------------------------
    Case("jpeg_truncated_to_a_third", lambda c: (jpeg_frame(c, 3, keep=1 / 3), fit(c)), OSError,
         r"cannot be decoded as images: labeled-data/synthvideo/img0003.jpg \(OSError: image file is truncated"),
    Case("label_right_of_the_image", lambda c: (edit_labels(c, set_cell(2, "snout", "x", 2000.0)), fit(c)),
         ConfigError, r"1 label\(s\) in .* lie outside their image: labeled-data/synthvideo/img0002.png snout at "
                      r"x=2000, y=[\d.]+ \(image 128×96\)\. Labels must be in x ∈ \[-0.5, width - 0.5\]"),
    Case("label_left_of_the_image", lambda c: (edit_labels(c, set_cell(5, "tailbase", "x", -30.0)), fit(c)),
         ConfigError, r"img0005.png tailbase at x=-30, y=[\d.]+ \(image 128×96\)"),
    Case("coco_label_outside_the_image", lambda c: fit_coco(c, set_keypoint(0, 0, 5000)), ConfigError,
         r"lie outside their image: labeled-data/synthvideo/img\d+.png snout at x=5000, y=[\d.]+ \(image 128×96\)"),
    # --- label tables ------------------------------------------------------------------------------------------
    Case("duplicate_rows", lambda c: (edit_labels(c, duplicate_row), fit(c)), ConfigError,
         r"CollectedData_synth.csv: frame labeled-data/synthvideo/img0004.png is listed 2 times \(data rows \[5, 17\], "
         r"with different labels\); 1 frame\(s\) repeat in all\. Each frame must appear once"),
    Case("non_numeric_cell", lambda c: (edit_labels(c, set_cell(1, "leftear", "y", "12px")), fit(c)), ConfigError,
         r"CollectedData_synth.csv: frame labeled-data/synthvideo/img0001.png, column leftear / y: '12px' is not a "
         r"number"),
    Case("missing_y_column", lambda c: (edit_labels(c, lambda t: t.drop(columns=[("synth", "tailbase", "y")])), fit(c)),
         ConfigError, r"CollectedData_synth.csv: label columns missing: \['tailbase / y'\]; every bodypart needs an x"),
    Case("x_without_y", lambda c: (edit_labels(c, set_cell(6, "rightear", "y", np.nan)), fit(c)), ConfigError,
         r"frame labeled-data/synthvideo/img0006.png, bodypart rightear: x=[\d.]+, y=empty - one coordinate is empty"),
    Case("frames_in_two_label_files", lambda c: (frames_labeled_twice(c), fit(c)), ConfigError,
         r"zcopy/CollectedData_synth.csv labels frames that an earlier label file of the project already labels, "
         r"e.g. \['labeled-data/synthvideo/img0000.png'"),
    Case("two_annotators_none_is_the_scorer", lambda c: (second_annotator(c), edit_config(c, scorer="Bob"), fit(c)),
         ConfigError, r"synthvideo holds label files of several annotators \['Alex', 'synth'\] \(CollectedData_Alex.csv, "
                      r"CollectedData_synth.csv\) and none is config.yaml's scorer 'Bob'"),
    Case("no_labeled_keypoint_at_all", lambda c: (edit_labels(c, blank_all), fit(c)), ConfigError,
         r"none of the 16 labeled frames has a labeled keypoint .* nothing to train on"),
    # --- COCO --------------------------------------------------------------------------------------------------
    Case("coco_same_file_name_twice", lambda c: fit_coco(c, same_file_name), ConfigError,
         r"labels.json: images\[0\] and images\[1\] have the same file_name 'labeled-data/synthvideo/img0000.png'"),
    Case("coco_same_image_id_twice", lambda c: fit_coco(c, same_image_id), ConfigError,
         r"labels.json: images\[0\] and images\[1\] have the same id 1"),
    Case("coco_x_null_with_v2", lambda c: fit_coco(c, set_keypoint(0, 3, None)), ConfigError,
         r"labels.json: annotations\[0\] \(id 1\): keypoint 'leftear' has x=None with v=2; a labeled keypoint needs"),
    Case("coco_keypoint_is_a_string", lambda c: fit_coco(c, set_keypoint(1, 1, "7")), ConfigError,
         r"annotations\[1\] \(id 2\): keypoint 'snout' has y='7' with v=2"),
    # --- config.yaml and YAML files ----------------------------------------------------------------------------
    Case("bodyparts_is_a_string", lambda c: (edit_config(c, bodyparts="snout, leftear, rightear, tailbase"), fit(c)),
         ConfigError, r"config.yaml: key bodyparts must be list\[str\] .*got 'snout, leftear, rightear, tailbase' "
                      r"\(str\); write a YAML list, e.g. bodyparts: \[snout, leftear, rightear, tailbase\]"),
    Case("training_fraction_not_a_list", lambda c: (edit_config(c, TrainingFraction=0.8), fit(c, train_fraction=None)),
         ConfigError, r"config.yaml: key TrainingFraction must be list\[float\] .*got 0.8 \(float\); write a YAML "
                      r"list, e.g. TrainingFraction: \[0.8\]"),
    Case("bodypart_listed_twice", lambda c: (edit_config(c, bodyparts=["snout", "snout"]), fit(c)), ConfigError,
         r"config.yaml: bodyparts lists \['snout'\] more than once"),
    Case("config_yaml_duplicate_key", lambda c: (duplicate_config_key(c), fit(c)), ConfigError,
         r"config.yaml: key 'bodyparts' appears twice in one mapping \(lines \d+ and \d+\)"),
    Case("recipe_duplicate_section", lambda c: lpa_fit(c, cli_config(c) + "model:\n  cfg: {}\n"), ConfigError,
         r"bad.yaml: key 'model' appears twice in one mapping \(lines \d+ and \d+\)"),
    # --- splits and data module arguments ----------------------------------------------------------------------
    Case("split_train_and_test_overlap", lambda c: (write_split(c, SPLIT), fit(c, split_file=c.tmp / "split.json")),
         ConfigError, r"split.json: 1 frame\(s\) are in both 'train' and 'test', e.g. "
                      r"\['labeled-data/synthvideo/img0003.png'\]"),
    Case("one_labeled_frame", lambda c: fit(one_frame_project(c)), ConfigError,
         r"1 training frame cannot also give a validation frame: use val_fraction=0 to train without validation, "
         r"or label more frames"),
    Case("normalization_with_two_values", lambda c: fit(c, normalization={"mean": [0.5, 0.5], "std": [0.2, 0.2]}),
         ConfigError, r"normalization mean must be 3 numbers \(one per RGB channel.*got \[0.5, 0.5\]"),
    Case("normalization_zero_std", lambda c: fit(c, normalization={"mean": [0.5] * 3, "std": [0.2, 0.0, 0.2]}),
         ConfigError, r"normalization std must be 3 positive numbers .*got \[0.2, 0.0, 0.2\]"),
    Case("head_sized_for_17_keypoints",
         lambda c: fit(c, head("target_generator.num_heatmaps", 17)), ConfigError,
         rf"the model does not fit the data: the data has 4 bodyparts \['snout', .*the config sets "
         rf"{NUMS}.target_generator.num_heatmaps = 17\. Remove these keys"),
    # --- runs and files ----------------------------------------------------------------------------------------
    Case("ckpt_path_cut_short", lambda c: lpa_fit_resuming(c, cut_checkpoint(c)), ConfigError,
         r"--ckpt_path .*cut.ckpt: not a complete checkpoint file, e.g. cut short"),
]


@pytest.fixture(scope="module")
def tiny_checkpoint(synthetic_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_untrained_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.ckpt", synthetic_project)


@pytest.fixture
def ctx(synthetic_project: Path, tiny_checkpoint: Path, tmp_path: Path) -> Ctx:
    return Ctx(Path(shutil.copytree(synthetic_project, tmp_path / "project")), tmp_path, tiny_checkpoint)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_is_reported_before_training(case: Case, ctx: Ctx, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(case.error) as raised:
        case.run(ctx)
    message = capsys.readouterr().err if raised.type is SystemExit else str(raised.value)
    assert re.search(case.match, message, re.DOTALL), message


# --- cases that read on with a warning -------------------------------------------------------------------------

def test_two_annotators_read_only_the_config_scorer(ctx: Ctx) -> None:
    second_annotator(ctx)
    with pytest.warns(UserWarning, match=r"synthvideo holds label files of several annotators \['Alex', 'synth'\]; "
                                         r"reading only CollectedData_synth \(config.yaml's scorer\)"):
        datamodule = PoseDataModule(ctx.project, image_size=(64, 96), num_workers=0)
    assert len(datamodule.project.image_paths) == len(set(datamodule.project.image_paths)) == 16
    assert not set(datamodule.split["train"]) & set(datamodule.split["test"])


def test_h5_and_csv_that_disagree_are_reported(ctx: Ctx) -> None:
    table = read_labels(ctx.project / LABELS)
    write_table(table, ctx.project / FRAMES / "CollectedData_synth.h5")
    set_cell(9, "leftear", "x", 1.5)(table)
    write_table(table, ctx.project / LABELS)
    os.utime(ctx.project / FRAMES / "CollectedData_synth.h5", (1e9, 1e9))  # the .csv is the newer file
    with pytest.warns(UserWarning, match=r"CollectedData_synth.h5 and CollectedData_synth.csv in .* disagree \(first "
                                         r"differing frame: labeled-data/synthvideo/img0009.png, leftear / x: [\d.]+ "
                                         r"vs 1.5\); CollectedData_synth.csv is the newer file \(modified 20"):
        data = read_project(ctx.project)
    assert data.keypoints[9, 0, 1, 0] != 1.5  # the .h5 is read, as DeepLabCut does


def test_coco_coordinates_of_unlabeled_keypoints_are_zeroed_with_a_warning(ctx: Ctx) -> None:
    def unlabeled_but_placed(content: dict) -> None:
        content["annotations"][2]["keypoints"][5] = 0  # leftear: v=0, x and y kept

    path = coco(ctx, unlabeled_but_placed)
    with pytest.warns(UserWarning, match=r"labels.json: 1 keypoint\(s\) have v=0 \(unlabeled\) but non-zero "
                                         r"coordinates, e.g. annotations\[2\] \(id 3\) 'leftear' at x=[\d.]+"):
        data = PoseDataModule(path, image_size=(64, 96), num_workers=0).project
    assert data.keypoints[2, 0, 1].tolist() == [0.0, 0.0, 0.0]


# --- images ----------------------------------------------------------------------------------------------------

def test_exif_orientation_is_read_the_same_by_every_reader(tmp_path: Path) -> None:
    """A 40×20 JPEG tagged "rotate 90°" is 20×40 to the decoder, the size check and the COCO writer."""
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (40, 20), (200, 30, 30)).save(path, exif=exif)
    assert read_image(path).shape == (40, 20, 3)
    assert image_size(path) == (20, 40)
    assert check_images(tmp_path, ["rotated.jpg"]) == {"rotated.jpg": (20, 40)}


def test_analyze_refuses_a_truncated_jpeg_in_a_folder(ctx: Ctx) -> None:
    jpeg_frame(ctx, 3, keep=1 / 3)
    with pytest.raises(OSError, match=r"image file .*img0003.jpg cannot be decoded as an image \(OSError: image "
                                      r"file is truncated"):
        analyze(ctx.checkpoint, [ctx.project / FRAMES], out_dir=ctx.tmp / "out", device="cpu", progress=False)
    assert not (ctx.tmp / "out").exists() or not any((ctx.tmp / "out").iterdir())


# --- YAML through jsonargparse ---------------------------------------------------------------------------------

def test_lpa_refuses_duplicate_keys_in_a_nested_config_file(ctx: Ctx, capsys: pytest.CaptureFixture) -> None:
    data = ctx.tmp / "data.yaml"
    data.write_text(f"project_dir: {ctx.project}\nbatch_size: 2\nbatch_size: 4\n")
    config = yaml.safe_load(cli_config(ctx))
    config.pop("data")
    (ctx.tmp / "run.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit):
        main(["fit", "--config", str(ctx.tmp / "run.yaml"), "--data", str(data)])
    assert re.search(r"key 'batch_size' appears twice in one mapping \(lines 2 and 3\)", capsys.readouterr().err)


# --- runs and files --------------------------------------------------------------------------------------------

def resume_setup(ctx: Ctx, model_cfg: dict | None = None) -> tuple[L.Trainer, PoseLitModule, PoseDataModule]:
    datamodule = PoseDataModule(ctx.project, image_size=(64, 96), num_workers=0)
    module = PoseLitModule({"model": model_cfg or heatmap_model_cfg()})
    return L.Trainer(default_root_dir=ctx.tmp / "runs", logger=False), module, datamodule


def checkpoint_at(ctx: Ctx, run: str, name: str, age_s: float, model_cfg: dict | None = None) -> Path:
    folder = ctx.tmp / "runs" / run / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    path = save_untrained_checkpoint(folder / name, ctx.project, model_cfg)
    os.utime(path, (path.stat().st_mtime - age_s,) * 2)
    return path


def test_resume_passes_over_a_truncated_last_checkpoint(ctx: Ctx) -> None:
    intact = checkpoint_at(ctx, "version_0", "last.ckpt", age_s=60)
    cut = checkpoint_at(ctx, "version_1", "last.ckpt", age_s=0)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 3])
    with pytest.warns(UserWarning, match=rf"--ckpt_path last: resuming from {re.escape(str(intact))}; passed over "
                                         rf"newer checkpoints: {re.escape(str(cut))} \(not a complete checkpoint file"):
        assert resume_checkpoint(*resume_setup(ctx)) == str(intact)


def test_resume_does_not_take_another_experiments_checkpoint(ctx: Ctx) -> None:
    ours = checkpoint_at(ctx, "version_0", "last.ckpt", age_s=60)
    theirs = checkpoint_at(ctx, "version_1", "last.ckpt", age_s=0, model_cfg=heatmap_model_cfg(num_deconv_layers=2))
    with pytest.warns(UserWarning, match=rf"resuming from {re.escape(str(ours))}; passed over newer checkpoints: "
                                         rf"{re.escape(str(theirs))} \(another experiment: cfg.model.heads.bodypart."
                                         r"heatmap_config.num_deconv_layers: checkpoint 2, this run 3\)"):
        assert resume_checkpoint(*resume_setup(ctx)) == str(ours)
    ours.unlink()
    with pytest.warns(UserWarning, match=r"no checkpoint of this run to resume, starting afresh; passed over: .*"
                                         r"version_1/checkpoints/last.ckpt \(another experiment"):
        assert resume_checkpoint(*resume_setup(ctx)) is None


def test_resume_does_not_take_a_checkpoint_of_other_data(ctx: Ctx) -> None:
    other = make_synthetic_project(ctx.tmp / "other", num_frames=8, bodyparts=("snout", "leftear", "rightear"))
    path = ctx.tmp / "runs" / "version_0" / "checkpoints" / "last.ckpt"
    path.parent.mkdir(parents=True)
    save_untrained_checkpoint(path, other)
    with pytest.warns(UserWarning, match=r"\(other data: dataset_info.bodyparts\[3\]: checkpoint None, this run "
                                         r"'tailbase'\)|\(other data: dataset_info.bodyparts: checkpoint"):
        assert resume_checkpoint(*resume_setup(ctx)) is None


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"),
                                     RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0")])
def test_full_disk_during_a_checkpoint_save_is_named(failure: Exception, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(*args, **kwargs):
        raise failure

    monkeypatch.setattr(torch, "save", full_disk)
    path = tmp_path / "ckpts" / "last.ckpt"
    with pytest.raises(OSError, match=rf"no space left on the device .* while saving checkpoint {re.escape(str(path))}"
                                      r": [\d.]+ MiB free in .*ckpts") as raised:
        AtomicCheckpointIO().save_checkpoint({"step": 1}, path)
    assert raised.value.errno == errno.ENOSPC
    assert list(path.parent.iterdir()) == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_checkpoints_and_split_files_honour_the_umask(umask: int, mode: int, tmp_path: Path) -> None:
    previous = os.umask(umask)
    try:
        AtomicCheckpointIO().save_checkpoint({"step": 1}, tmp_path / "last.ckpt")
        save_split({"train": ["a.png"], "val": [], "test": []}, tmp_path / "split.json")
    finally:
        os.umask(previous)
    assert {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {"last.ckpt": mode, "split.json": mode}


def test_device_cuda_without_a_gpu_gives_our_message(ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"--device cuda: PyTorch sees no CUDA GPU on this machine .*use --device "
                                          r"cpu, or --device auto"):
        main(["analyze", str(ctx.project / FRAMES), "--checkpoint", str(ctx.checkpoint), "--device", "cuda"])
    with pytest.raises(ConfigError, match=r"--device 'gpu' is not a device name: use auto, cpu, cuda or cuda:N"):
        load_module(ctx.checkpoint, "gpu")
