"""Annotation formats: read (and write) label files into :class:`LabeledData`."""

from lightning_pose_arch.data.formats.base import LabeledData
from lightning_pose_arch.data.formats.coco import read_coco, write_coco
from lightning_pose_arch.data.formats.dlc import read_project, write_project

__all__ = ["LabeledData", "read_coco", "read_project", "write_coco", "write_project"]
