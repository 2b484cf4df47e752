"""Bad input fails before training, with a message naming the file/key/value and what is valid.

One case per bad input. Training-side cases run ``Trainer.fit`` with a callback that stops
the test if a training batch is ever reached: every error must come at construction or in
``setup`` (or, for ``lpa``, while parsing), never in the middle of an epoch.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

from helpers import heatmap_model_cfg, save_untrained_checkpoint
from lightning_pose_arch.cli import main
from lightning_pose_arch.data.datamodule import PoseDataModule
from lightning_pose_arch.data.synthetic import make_synthetic_project
from lightning_pose_arch.inference.analyze import analyze
from lightning_pose_arch.inference.runner import load_module
from lightning_pose_arch.lit.checkpoints import UntrustedCheckpointError
from lightning_pose_arch.lit.module import PoseLitModule
from lightning_pose_arch.registry import ConfigError

LABELS = "labeled-data/synthvideo/CollectedData_synth.csv"
FRAMES = "labeled-data/synthvideo"
IMAGE = FRAMES + "/img{:04d}.png"


class TrainingStarted(BaseException):
    """Raised if a case reaches a training batch: its error came too late."""


class FailIfTrainingStarts(L.Callback):
    def on_train_batch_start(self, *args) -> None:
        raise TrainingStarted("a training batch started before the bad input was reported")


@dataclass
class Ctx:
    """What a case may use: a private copy of the synthetic project, a scratch folder, a checkpoint."""

    project: Path
    tmp: Path
    checkpoint: Path


def fit(ctx: Ctx, cfg: dict | None = None, ckpt_path: str | Path | None = None, **data: object) -> None:
    options = dict(image_size=(64, 96), batch_size=4, num_workers=0, train_fraction=0.75, val_fraction=0.25)
    datamodule = PoseDataModule(ctx.project, **{**options, **data})
    module = PoseLitModule(cfg or {"model": heatmap_model_cfg()})
    trainer = L.Trainer(max_steps=1, default_root_dir=ctx.tmp, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[FailIfTrainingStarts()])
    trainer.fit(module, datamodule, ckpt_path=ckpt_path)


def head(path: str, value: object) -> dict:
    """The model config with ``heads.bodypart.<path>`` set to ``value``."""
    cfg = {"model": heatmap_model_cfg()}
    *parents, last = f"model.heads.bodypart.{path}".split(".")
    node = cfg
    for key in parents:
        node = node[key]
    node[last] = value
    return cfg


def renamed(path: str, new_key: str) -> dict:
    """The model config with the key at ``path`` (``model.…``) renamed to ``new_key`` (a misspelling)."""
    cfg = {"model": heatmap_model_cfg()}
    *parents, last = path.split(".")
    node = cfg
    for key in parents:
        node = node[key]
    node[new_key] = node.pop(last)
    return cfg


def with_cfg(**top_level: object) -> dict:
    return {"model": heatmap_model_cfg(), **top_level}


def edit_config(ctx: Ctx, **changes: object) -> None:
    config = yaml.safe_load((ctx.project / "config.yaml").read_text())
    (ctx.project / "config.yaml").write_text(yaml.safe_dump({**config, **changes}))


def lpa_fit(ctx: Ctx, config_text: str) -> None:
    path = ctx.tmp / "bad.yaml"
    path.write_text(config_text)
    main(["fit", "--config", str(path), "--trainer.default_root_dir", str(ctx.tmp)])


def cli_config(ctx: Ctx, **data: object) -> str:
    model = {"cfg": {"model": heatmap_model_cfg()}}
    return yaml.safe_dump({"trainer": {"max_steps": 1}, "model": model,
                           "data": {"project_dir": str(ctx.project), "image_size": [64, 96], **data}})


def write_split(ctx: Ctx, split: dict) -> None:
    (ctx.tmp / "split.json").write_text(json.dumps(split))


def corrupt(ctx: Ctx, index: int, content: bytes | None = None) -> None:
    path = ctx.project / IMAGE.format(index)
    path.write_bytes(content if content is not None else path.read_bytes()[: len(path.read_bytes()) // 2])


def other_project(ctx: Ctx, bodyparts: tuple[str, ...]) -> Path:
    return make_synthetic_project(ctx.tmp / "other", num_frames=8, bodyparts=bodyparts)


def pickled_object_checkpoint(ctx: Ctx) -> Path:
    contents = torch.load(ctx.checkpoint, weights_only=True)
    contents["hyper_parameters"]["note"] = Path("anything")  # any non-plain object is a pickled GLOBAL
    torch.save(contents, ctx.tmp / "pickled.ckpt")
    return ctx.tmp / "pickled.ckpt"


@dataclass
class Case:
    id: str
    run: Callable[[Ctx], object]
    error: type[BaseException]
    match: str


GENERATOR, PREDICTOR = "target_generator", "predictor"
LAYERS = "heatmap_config.num_deconv_layers"

CASES = [
    # --- unknown names -----------------------------------------------------------------------------------------
    Case("unknown_head_type", lambda c: fit(c, head("type", "HeatmapHaed")), ConfigError,
         r"HEADS has no type 'HeatmapHaed'; did you mean 'HeatmapHead'\? Registered types: .*HeatmapHead"),
    Case("unknown_backbone_type", lambda c: fit(c, {"model": heatmap_model_cfg({"type": "CSPNext"})}), ConfigError,
         r"BACKBONES has no type 'CSPNext'; did you mean 'CSPNeXt'.*\? Registered types: CSPNeXt, HRNet, ResNet"),
    Case("unknown_criterion_type", lambda c: fit(c, head("criterion.type", "MSE")), ConfigError,
         r"CRITERIONS has no type 'MSE'.* Registered types: .*WeightedMSECriterion"),
    Case("unknown_optimizer", lambda c: fit(c, with_cfg(optimizer={"type": "Adamm"})), ConfigError,
         r"optimizer type 'Adamm' is not a class of torch.optim; did you mean 'Adam'.* Valid types: .*AdamW"),
    Case("unknown_scheduler", lambda c: fit(c, with_cfg(scheduler={"type": "CosineLR"})), ConfigError,
         r"scheduler type 'CosineLR' is not a class of torch.optim.lr_scheduler.* Valid types: .*StepLR"),
    # --- misspelled keys ---------------------------------------------------------------------------------------
    Case("misspelled_top_level_key", lambda c: fit(c, with_cfg(optimiser={"type": "Adam"})), ConfigError,
         r"PoseLitModule cfg has no key 'optimiser'; did you mean 'optimizer'\? Valid keys: model, optim"),
    Case("misspelled_model_key", lambda c: fit(c, renamed("model.backbone", "backbon")), ConfigError,
         r"model config has no argument 'backbon'; did you mean 'backbone'\? Valid arguments: backbone"),
    Case("misspelled_head_key", lambda c: fit(c, renamed("model.heads.bodypart.predictor", "predicter")), ConfigError,
         r"HEADS type 'HeatmapHead' has no argument 'predicter'; did you mean 'predictor'\? Valid arg"),
    Case("misspelled_heatmap_config_key",
         lambda c: fit(c, renamed(f"model.heads.bodypart.{LAYERS}", "num_deconv_layer")), ConfigError,
         r"heatmap_config has no argument 'num_deconv_layer'; did you mean 'num_deconv_layers'.*\? "
         r"Valid arguments: num_in"),
    Case("misspelled_generator_key",
         lambda c: fit(c, renamed("model.heads.bodypart.target_generator.pos_dist_thresh", "pos_dist_tresh")),
         ConfigError, r"TARGET_GENERATORS type 'HeatmapGaussianGenerator' has no argument 'pos_dist_tresh'; did you "
                      r"mean 'pos_dist_thresh'\? Valid arguments: "),
    Case("misspelled_optimizer_arg", lambda c: fit(c, with_cfg(optimizer={"type": "AdamW", "learning_rate": 1})),
         ConfigError, r"optimizer AdamW has no argument 'learning_rate'.* Valid arguments: params, lr, "),
    Case("misspelled_metrics_key", lambda c: fit(c, with_cfg(metrics={"pck": 3})), ConfigError,
         r"cfg.metrics has unknown keys \['pck'\]; valid: \['pck_threshold'\]"),
    Case("misspelled_data_module_arg_in_yaml", lambda c: lpa_fit(c, cli_config(c, batchsiz=4)), SystemExit,
         r"fit --help.*'fit' does not accept option 'data.batchsiz'"),
    # --- wrong value types -------------------------------------------------------------------------------------
    Case("num_deconv_layers_is_a_word", lambda c: fit(c, head(LAYERS, "two")), ConfigError,
         r"HEADS type 'HeatmapHead' argument heatmap_config\['num_deconv_layers'\] must be int, got 'two' \(str\)"),
    Case("pos_dist_thresh_is_a_string", lambda c: fit(c, head(f"{GENERATOR}.pos_dist_thresh", "8px")), ConfigError,
         r"HeatmapGaussianGenerator' argument pos_dist_thresh must be float, got '8px' \(str\)"),
    Case("lr_is_a_string", lambda c: fit(c, with_cfg(optimizer={"type": "AdamW", "lr": "1e-3"})), ConfigError,
         r"optimizer AdamW argument lr must be float \| Tensor, got '1e-3' \(str\)"),
    Case("scheduler_arg_is_a_word", lambda c: fit(c, with_cfg(scheduler={"type": "StepLR", "step_size": "ten"})),
         ConfigError, r"scheduler StepLR argument step_size must be int, got 'ten' \(str\)"),
    Case("image_size_is_a_word", lambda c: fit(c, image_size="big"), ConfigError,
         r"PoseDataModule argument image_size must be tuple\[int, int\], got 'big' \(str\)"),
    Case("image_size_has_three_sides", lambda c: fit(c, image_size=(64, 96, 3)), ConfigError,
         r"PoseDataModule argument image_size must be tuple\[int, int\], got \(64, 96, 3\)"),
    Case("predict_split_unknown", lambda c: fit(c, predict_split="tests"), ConfigError,
         r"PoseDataModule argument predict_split must be one of 'train', 'val', 'test', 'all', got 'tests'"),
    Case("image_size_in_yaml_is_a_word", lambda c: lpa_fit(c, cli_config(c, image_size="big")), SystemExit,
         r"data.image_size.*Expected a <class 'tuple'>. Got value: big"),
    # --- zero / negative sizes ---------------------------------------------------------------------------------
    Case("image_size_zero", lambda c: fit(c, image_size=(0, 96)), ConfigError,
         r"PoseDataModule image_size must be positive, got \(0, 96\)"),
    Case("image_size_not_multiple_of_32", lambda c: fit(c, image_size=(60, 96)), ConfigError,
         r"PoseDataModule image_size \[60, 96\] must be multiples of 32"),
    Case("batch_size_zero", lambda c: fit(c, batch_size=0), ConfigError,
         r"PoseDataModule batch_size must be positive, got 0"),
    Case("num_workers_negative", lambda c: fit(c, num_workers=-1), ConfigError, r"num_workers must be >= 0, got -1"),
    Case("num_deconv_layers_negative", lambda c: fit(c, head(LAYERS, -1)), ValueError,
         r"num_deconv_layers >= 0, got .*num_deconv_layers=-1"),
    Case("pos_dist_thresh_zero", lambda c: fit(c, head(f"{GENERATOR}.pos_dist_thresh", 0)), ValueError,
         r"HeatmapGaussianGenerator pos_dist_thresh and locref_std must be > 0, got 0 and 7.2801"),
    Case("generator_locref_std_negative", lambda c: fit(c, head(f"{GENERATOR}.locref_std", -1.0)), ValueError,
         r"pos_dist_thresh and locref_std must be > 0, got 8 and -1.0"),
    Case("predictor_locref_std_zero", lambda c: fit(c, head(f"{PREDICTOR}.locref_std", 0.0)), ValueError,
         r"HeatmapPredictor locref_std must be > 0, got 0.0"),
    # --- the project on disk -----------------------------------------------------------------------------------
    Case("missing_config_yaml", lambda c: ((c.project / "config.yaml").unlink(), fit(c)), FileNotFoundError,
         r"config.yaml not found: project_dir must be a DeepLabCut project folder"),
    Case("config_yaml_syntax_error",
         lambda c: ((c.project / "config.yaml").write_text("bodyparts: [snout, tail\n"), fit(c)), ConfigError,
         r"config.yaml: invalid YAML: .*line 2"),
    Case("config_yaml_without_bodyparts", lambda c: (edit_config(c, bodyparts=[]), fit(c)), ConfigError,
         r"config.yaml: no bodyparts listed"),
    Case("no_label_files", lambda c: ((c.project / LABELS).unlink(), fit(c)), FileNotFoundError,
         r"no labeled-data/\*/CollectedData_\*.h5 or .csv files under .*"),
    Case("label_bodyparts_differ_from_config",
         lambda c: (edit_config(c, bodyparts=["snout", "leftear", "rightear", "tail"]), fit(c)), ConfigError,
         r"CollectedData_synth.csv: bodyparts \['snout', 'leftear', 'rightear', 'tailbase'\] differ from "
         r"config.yaml's .*\(missing: \['tail'\], extra: \['tailbase'\]\)"),
    Case("missing_image", lambda c: ((c.project / IMAGE.format(3)).unlink(), fit(c)), FileNotFoundError,
         r"1 labeled image\(s\) listed in the label files are missing under .*img0003.png.*"
         r"every labeled frame needs its image file"),
    Case("corrupt_image", lambda c: (corrupt(c, 0, b"not a png"), fit(c)), OSError,
         r"1 labeled image\(s\) under .* cannot be decoded as images: labeled-data/synthvideo/img0000.png "
         r"\(UnidentifiedImageError: cannot identify image file 'file'\). Replace them with readable PNG/JPEG files"),
    Case("truncated_image", lambda c: (corrupt(c, 5), fit(c)), OSError,
         r"cannot be decoded as images: labeled-data/synthvideo/img0005.png \(.*\). Replace them"),
    # --- splits ------------------------------------------------------------------------------------------------
    Case("empty_training_split", lambda c: fit(c, train_fraction=0.03), ConfigError,
         r"empty training split: 16 frames, train_fraction=0.03.*raise train_fraction"),
    Case("val_fraction_rounds_to_no_frame", lambda c: fit(c, val_fraction=0.01), ConfigError,
         r"empty validation split: val_fraction=0.01 of 12 training frames rounds to 0 frames; use "
         r"val_fraction >= 0.0833 .* or val_fraction=0 to train without validation"),
    Case("train_fraction_above_one", lambda c: fit(c, train_fraction=1.5), ConfigError,
         r"train_fraction must be in \(0, 1\], got 1.5"),
    Case("split_file_names_unknown_frames",
         lambda c: (write_split(c, {"train": ["labeled-data/x/nope.png"], "val": [], "test": []}),
                    fit(c, split_file=c.tmp / "split.json")), ConfigError,
         r"split file .*split.json lists frames that are not labeled in the project: "
         r"\['labeled-data/x/nope.png'\]"),
    Case("split_file_is_not_json",
         lambda c: ((c.tmp / "split.json").write_text("{train: "), fit(c, split_file=c.tmp / "split.json")),
         ConfigError, r"split file .*split.json is not valid JSON"),
    Case("flip_pairs_name_unknown_bodyparts", lambda c: fit(c, flip_pairs=[("leftear", "rightEar")]), ConfigError,
         r"flip_pairs name unknown bodyparts \['rightEar'\]; bodyparts are \['snout', 'leftear'"),
    # --- lpa fit --config --------------------------------------------------------------------------------------
    Case("fit_config_yaml_syntax_error", lambda c: lpa_fit(c, "model: {cfg: {model: [\n"), ConfigError,
         r"bad.yaml: invalid YAML: .*line"),
    Case("fit_config_is_not_a_mapping", lambda c: lpa_fit(c, "- fit\n- predict\n"), ConfigError,
         r"bad.yaml: expected a YAML mapping, got list"),
    Case("fit_config_unknown_section", lambda c: lpa_fit(c, cli_config(c) + "trainr: {max_epochs: 1}\n"), SystemExit,
         r"does not accept option 'trainr.max_epochs'"),
    # --- checkpoints -------------------------------------------------------------------------------------------
    Case("checkpoint_for_other_bodyparts",
         lambda c: fit(replace(c, project=other_project(c, ("snout", "leftear", "rightear"))), ckpt_path=c.checkpoint),
         ConfigError, r"tiny.ckpt was trained for bodyparts \['snout', 'leftear', 'rightear', 'tailbase'\], this model "
                      r"is built for \['snout', 'leftear', 'rightear'\]: use a checkpoint trained on data with "
                      r"the same bodyparts"),
    Case("checkpoint_for_other_architecture", lambda c: fit(c, head(LAYERS, 2), ckpt_path=c.checkpoint), ConfigError,
         r"tiny.ckpt does not fit this model \(.*unexpected, e.g. \['model.heads.bodypart.heatmap_branch.*"
         r"It was trained with model config .*'num_deconv_layers': 3"),
    Case("analyze_file_that_is_not_a_checkpoint",
         lambda c: ((c.tmp / "notes.ckpt").write_text("hello"), analyze(c.tmp / "notes.ckpt", [c.project / FRAMES])),
         ConfigError, r"notes.ckpt is not a readable PyTorch checkpoint \(checkpoints are zip archives written by "
                      r"torch.save; this file is not one\); pass a .ckpt written by `lpa fit`"),
    Case("analyze_plain_state_dict",
         lambda c: (torch.save({"w": torch.zeros(1)}, c.tmp / "w.pt"), analyze(c.tmp / "w.pt", [c.project / FRAMES])),
         ConfigError, r"w.pt is a PyTorch file but not a trained lightning_pose_arch checkpoint .*'cfg' and "
                      r"'dataset_info'"),
    Case("analyze_checkpoint_with_pickled_objects", lambda c: load_module(pickled_object_checkpoint(c), "cpu"),
         UntrustedCheckpointError, r"pickled.ckpt holds an object of type pathlib.PosixPath; .*arbitrary code.*"
                                   r"trust_checkpoint=True \(lpa: --trust-checkpoint\)"),
    Case("analyze_unreadable_video",
         lambda c: ((c.tmp / "broken.mp4").write_bytes(b"not a video"),
                    main(["analyze", str(c.tmp / "broken.mp4"), "--checkpoint", str(c.checkpoint)])),
         OSError, r"video file .*broken.mp4 cannot be opened \(missing, corrupt or an unsupported codec\)"),
    Case("analyze_unsupported_file",
         lambda c: ((c.tmp / "notes.txt").write_text("x"), analyze(c.checkpoint, [c.tmp / "notes.txt"])),
         ValueError, r"notes.txt: not a video \(\[.*'.mp4'.*\]\), image \(\[.*'.png'.*\]\) or folder"),
]


@pytest.fixture(scope="module")
def tiny_checkpoint(synthetic_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_untrained_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.ckpt", synthetic_project)


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 20 and len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_is_reported_before_training(case: Case, synthetic_project: Path, tiny_checkpoint: Path,
                                               tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ctx = Ctx(Path(shutil.copytree(synthetic_project, tmp_path / "project")), tmp_path, tiny_checkpoint)
    with pytest.raises(case.error) as raised:
        case.run(ctx)
    message = capsys.readouterr().err if raised.type is SystemExit else str(raised.value)  # lpa's parser prints
    assert re.search(case.match, message, re.DOTALL), message


def test_frames_without_any_label_are_kept_and_counted(synthetic_project: Path, tmp_path: Path) -> None:
    project = Path(shutil.copytree(synthetic_project, tmp_path / "project"))
    table = (project / LABELS).read_text().splitlines()
    for row in (3, 4):  # 3 header rows: frames 0 and 1 lose every label
        cells = table[row].split(",")
        table[row] = ",".join([cells[0]] + [""] * (len(cells) - 1))
    (project / LABELS).write_text("\n".join(table) + "\n")
    with pytest.warns(UserWarning, match=r"2 of 16 labeled frames in .* have no labeled keypoint .*img0000.png.*kept"):
        datamodule = PoseDataModule(project, image_size=(64, 96), num_workers=0)
    assert len(datamodule.project.image_paths) == 16
    assert (datamodule.project.keypoints[:2, ..., 2] == 0).all()
