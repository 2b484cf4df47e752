"""Prediction figures: each label joined to its prediction, the error in the title, zoomed on the animal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from lightning_pose_arch.inference.plots import _draw_labels, _zoom, paired_predictions, plot_predictions

BODYPARTS = ["snout", "tail"]
PREDICTED = np.array([[[30.0, 40.0, 0.9], [60.0, 20.0, 0.8]]])  # [N=1, K=2, 3]
LABELS = np.array([[[33.0, 44.0, 2.0], [60.0, 20.0, 2.0]]])  # snout 5 px off, tail exact


def test_labels_are_joined_to_predictions_and_the_error_is_the_title() -> None:
    ax = Figure().subplots()
    title = _draw_labels(ax, PREDICTED, LABELS, BODYPARTS, np.ones((2, 4)))
    assert title == ": error 2.5 px mean, 5.0 max (snout)"
    np.testing.assert_array_equal(ax.lines[0].get_xydata(), [[33, 44], [30, 40]])


def test_unlabeled_keypoints_are_neither_drawn_nor_measured() -> None:
    labels = LABELS.copy()
    labels[0, 0, 2] = 0  # snout unlabeled
    ax = Figure().subplots()
    assert _draw_labels(ax, PREDICTED, labels, BODYPARTS, np.ones((2, 4))) == ": error 0.0 px mean, 0.0 max (tail)"
    assert len(ax.lines) == 1


def test_panel_is_zoomed_on_the_points_inside_the_frame() -> None:
    ax = Figure().subplots()
    _zoom(ax, PREDICTED, LABELS, pcutoff=0.4, shape=(480, 640))
    # points span x 30..60, y 20..44; padding max(24, 0.4 * 30) = 24, clipped at the frame's edge (-0.5)
    assert ax.get_xlim() == (6.0, 84.0) and ax.get_ylim() == (68.0, -0.5)


def test_individuals_are_paired_with_their_labels() -> None:
    labels = np.array([[[[10.0, 10.0, 2.0]], [[90.0, 90.0, 2.0]]]])  # [F=1, N=2, K=1, 3]
    predicted = np.array([[[[91.0, 90.0, 0.9]], [[11.0, 10.0, 0.9]], [[np.nan, np.nan, 0.0]]]])  # swapped + empty
    np.testing.assert_array_equal(paired_predictions(predicted, labels)[0, :, 0, 0], [11.0, 91.0])


def test_plot_predictions_writes_the_figure(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((480, 640, 3), np.uint8)).save(tmp_path / "img0.png")
    path = plot_predictions(tmp_path, ["img0.png"], PREDICTED[None], BODYPARTS, tmp_path / "p.png", labels=LABELS[None])
    assert Image.open(path).size == (450, 380)
