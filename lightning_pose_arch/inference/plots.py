"""Figures of predicted keypoints over their images."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure

from lightning_pose_arch.data.dataset import read_image
from lightning_pose_arch.lit.metrics import match_individuals


def plot_predictions(
    root: Path,
    image_paths: list[str],
    keypoints: np.ndarray,
    bodyparts: list[str],
    out_path: str | Path,
    pcutoff: float = 0.4,
    max_images: int = 6,
    labels: np.ndarray | None = None,
) -> Path:
    """Grid of up to ``max_images`` frames with keypoints ``[F, N, K, 3]`` drawn.

    Predictions scoring at least ``pcutoff`` are filled dots; the others are hollow circles.
    With ``labels [F, N, K, 3]`` (x, y, visibility) each labeled point is a white-edged ring
    joined to its prediction by a line (individuals paired as the metrics pair them), the
    title gives the frame's mean and largest error in pixels, and each panel is zoomed on
    the labeled and predicted points so that neighbouring keypoints stay apart.

    Written to ``out_path`` (PNG) via a temporary file, so a crash leaves no partial figure.
    """
    count = min(max_images, len(image_paths))
    cols = min(3, count)
    rows = int(np.ceil(count / cols))
    # Figure objects, not pyplot: writing files must not change the caller's matplotlib backend.
    fig = Figure(figsize=(4.5 * cols, 3.8 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    colors = matplotlib.colormaps["jet"](np.linspace(0, 1, len(bodyparts)))
    if labels is not None:
        keypoints = paired_predictions(keypoints, labels)
    for i, (ax, path) in enumerate(zip(axes.flat, image_paths[:count])):
        image = read_image(root / path)
        ax.imshow(image)
        _draw_predictions(ax, keypoints[i], bodyparts, colors, pcutoff)
        title = Path(path).name
        if labels is not None:
            title += _draw_labels(ax, keypoints[i], labels[i], bodyparts, colors)
            _zoom(ax, keypoints[i], labels[i], pcutoff, image.shape[:2])
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    for ax in list(axes.flat)[count:]:
        ax.axis("off")
    axes.flat[0].legend(loc="lower left", fontsize=7, framealpha=0.7)
    fig.tight_layout()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.stem}.tmp.png")
    fig.savefig(tmp, dpi=100)
    tmp.replace(out_path)
    return out_path


def paired_predictions(keypoints: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Predictions ``[F, Np, K, 3]`` reordered onto the labels' ``N`` individuals as the metrics pair them
    (:func:`~lightning_pose_arch.lit.metrics.match_individuals`); unpaired individuals are NaN."""
    index = match_individuals(torch.from_numpy(np.nan_to_num(keypoints, nan=0.0)), torch.from_numpy(labels)).numpy()
    paired = np.take_along_axis(keypoints, index.clip(min=0)[..., None, None], axis=1)
    paired[index < 0] = np.nan
    return paired


def _draw_predictions(ax, keypoints: np.ndarray, bodyparts: list[str], colors: np.ndarray, pcutoff: float) -> None:
    for k, name in enumerate(bodyparts):
        confident = np.nan_to_num(keypoints[:, k, 2], nan=-1.0) >= pcutoff
        ax.scatter(keypoints[confident, k, 0], keypoints[confident, k, 1], s=30, color=colors[k],
                   edgecolors="black", linewidths=0.6, label=name, zorder=3)
        ax.scatter(keypoints[~confident, k, 0], keypoints[~confident, k, 1], s=30, facecolors="none",
                   edgecolors=colors[k], linewidths=1.2, zorder=3)


def _draw_labels(ax, keypoints: np.ndarray, labels: np.ndarray, bodyparts: list[str], colors: np.ndarray) -> str:
    """Rings at the labels ``[N, K, 3]``, lines to the predictions; return the title's error text."""
    labeled = labels[..., 2] > 0
    errors = np.linalg.norm(keypoints[..., :2] - labels[..., :2], axis=-1)
    for n, k in zip(*np.nonzero(labeled)):
        x, y = labels[n, k, :2]
        ax.plot([x, keypoints[n, k, 0]], [y, keypoints[n, k, 1]], color=colors[k], lw=1.2, zorder=2)
        ax.scatter([x], [y], s=70, facecolors="none", edgecolors="white", linewidths=2.2, zorder=4)
        ax.scatter([x], [y], s=70, facecolors="none", edgecolors=colors[k], linewidths=1.0, zorder=5)
    measured = labeled & np.isfinite(errors)
    if not measured.any():
        return ": no labeled keypoint predicted"
    worst = np.unravel_index(np.where(measured, errors, -1).argmax(), errors.shape)
    return f": error {errors[measured].mean():.1f} px mean, {errors[worst]:.1f} max ({bodyparts[worst[1]]})"


def _zoom(ax, keypoints: np.ndarray, labels: np.ndarray, pcutoff: float, shape: tuple[int, int]) -> None:
    """Limit the axes to the labels and confident predictions, padded, inside the frame ``(H, W)``."""
    shown = np.nan_to_num(keypoints[..., 2], nan=-1.0) >= pcutoff
    points = np.concatenate([labels[labels[..., 2] > 0][:, :2], keypoints[shown][:, :2]])
    points = points[np.isfinite(points).all(axis=1)]
    if not len(points):
        return
    low, high = points.min(axis=0), points.max(axis=0)
    pad = max(24.0, 0.4 * float((high - low).max()))
    (x0, y0), (x1, y1) = np.maximum(low - pad, -0.5), np.minimum(high + pad, [shape[1] - 0.5, shape[0] - 0.5])
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)  # image axes: y grows downwards


def plot_trajectories(keypoints: np.ndarray, bodyparts: list[str], out_stem: str | Path, pcutoff: float = 0.4) -> list[Path]:
    """Trajectory (x vs y) and likelihood-over-time figures of ``[F, N, K, 3]`` keypoints.

    Writes ``<out_stem>_trajectories.png`` and ``<out_stem>_likelihood.png``; returns both paths.
    """
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    colors = matplotlib.colormaps["jet"](np.linspace(0, 1, len(bodyparts)))
    frames = np.arange(len(keypoints))
    fig_xy, fig_p = Figure(figsize=(6, 5)), Figure(figsize=(8, 3.5))
    ax_xy, ax_p = fig_xy.subplots(), fig_p.subplots()
    for k, name in enumerate(bodyparts):
        for n in range(keypoints.shape[1]):
            x, y, p = keypoints[:, n, k].T
            confident = p >= pcutoff
            ax_xy.plot(x[confident], y[confident], ".", ms=2, color=colors[k], label=name if n == 0 else None)
            ax_p.plot(frames, p, lw=0.8, color=colors[k], label=name if n == 0 else None)
    ax_xy.invert_yaxis()
    ax_xy.set(xlabel="x (px)", ylabel="y (px)", title=f"trajectories (likelihood ≥ {pcutoff})")
    ax_p.axhline(pcutoff, color="k", ls="--", lw=0.8)
    ax_p.set(xlabel="frame", ylabel="likelihood", ylim=(-0.02, 1.02))
    paths = []
    for fig, ax, suffix in ((fig_xy, ax_xy, "trajectories"), (fig_p, ax_p, "likelihood")):
        ax.legend(fontsize=7, markerscale=4)
        fig.tight_layout()
        path = out_stem.with_name(f"{out_stem.name}_{suffix}.png")
        tmp = path.with_name(f".{path.stem}.tmp.png")
        fig.savefig(tmp, dpi=100)
        tmp.replace(path)
        paths.append(path)
    return paths
