"""Figures of predicted keypoints over their images."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from lightning_pose_arch.data.dataset import read_image


def plot_predictions(
    root: Path,
    image_paths: list[str],
    keypoints: np.ndarray,
    bodyparts: list[str],
    out_path: str | Path,
    pcutoff: float = 0.4,
    max_images: int = 6,
) -> Path:
    """Grid of up to ``max_images`` frames with keypoints ``[F, N, K, 3]`` drawn.

    Keypoints scoring at least ``pcutoff`` are filled dots; the others are hollow circles.

    Written to ``out_path`` (PNG) via a temporary file, so a crash leaves no partial figure.
    """
    count = min(max_images, len(image_paths))
    cols = min(3, count)
    rows = int(np.ceil(count / cols))
    # Figure objects, not pyplot: writing files must not change the caller's matplotlib backend.
    fig = Figure(figsize=(4.5 * cols, 3.6 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    colors = matplotlib.colormaps["jet"](np.linspace(0, 1, len(bodyparts)))
    for ax, path, kpts in zip(axes.flat, image_paths[:count], keypoints[:count]):
        ax.imshow(read_image(root / path))
        for k, name in enumerate(bodyparts):
            confident = kpts[:, k, 2] >= pcutoff
            ax.scatter(kpts[confident, k, 0], kpts[confident, k, 1], s=36, color=colors[k],
                       edgecolors="white", linewidths=0.8, label=name)
            ax.scatter(kpts[~confident, k, 0], kpts[~confident, k, 1], s=36, facecolors="none",
                       edgecolors=colors[k], linewidths=1.2)
        ax.set_title(Path(path).name, fontsize=9)
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
