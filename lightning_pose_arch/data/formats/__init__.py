"""Annotation formats: read (and write) label files into :class:`LabeledData`."""

from pathlib import Path

from lightning_pose_arch.data.formats.base import LabeledData
from lightning_pose_arch.data.formats.coco import read_coco, write_coco
from lightning_pose_arch.data.formats.dlc import read_project, write_project

__all__ = ["LabeledData", "read_coco", "read_labeled_data", "read_project", "write_coco", "write_project"]


def read_labeled_data(path: str | Path) -> LabeledData:
    """A COCO keypoints ``.json`` file (images relative to its folder) or a DeepLabCut project folder."""
    path = Path(path).expanduser()
    return read_coco(path) if path.suffix.lower() == ".json" else read_project(path)
