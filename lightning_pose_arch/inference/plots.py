"""Figures of predicted keypoints over their images."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lightning_pose_arch.data.dataset import read_image  # noqa: E402


def plot_predictions(
    root: Path,
    image_paths: list[str],
    keypoints: np.ndarray,
    bodyparts: list[str],
    out_path: str | Path,
    pcutoff: float = 0.4,
    max_images: int = 6,
) -> Path:
    """Grid of up to ``max_images`` frames with keypoints ``[F, N, K, 3]`` drawn (score ≥ ``pcutoff``).

    Written to ``out_path`` (PNG) via a temporary file, so a crash leaves no partial figure.
    """
    count = min(max_images, len(image_paths))
    cols = min(3, count)
    rows = int(np.ceil(count / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.6 * rows), squeeze=False)
    colors = plt.get_cmap("jet")(np.linspace(0, 1, len(bodyparts)))
    for ax, path, kpts in zip(axes.flat, image_paths[:count], keypoints[:count]):
        ax.imshow(read_image(root / path))
        for k, name in enumerate(bodyparts):
            confident = kpts[:, k, 2] >= pcutoff
            ax.scatter(kpts[confident, k, 0], kpts[confident, k, 1], s=36, color=colors[k],
                       edgecolors="white", linewidths=0.8, label=name)
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
    plt.close(fig)
    tmp.replace(out_path)
    return out_path
