"""Image files: the one decoder every reader uses (training, checking, analysis, plots, COCO writing).

Images are decoded with Pillow, fully (a truncated JPEG fails instead of decoding to grey), and
turned upright by their EXIF orientation tag, as image viewers and OpenCV's ``imread`` show them:
labels are taken to be in those upright pixels. :func:`image_size` reports the same upright size
from the header alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

EXIF_ORIENTATION = 0x0112
ROTATED_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height
MAX_LISTED = 3  # bad files quoted in one message


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file completely as upright ``[H, W, 3]`` uint8 RGB; raise OSError naming the file if it
    is missing or any part of it cannot be decoded."""
    path = Path(path)
    if not path.is_file():
        raise OSError(f"image file {path} does not exist")
    try:
        with Image.open(path) as image:
            image.load()  # decodes every byte: truncated or corrupt data raise here
            return np.array(ImageOps.exif_transpose(image).convert("RGB"))  # writable: torch.from_numpy warns on views
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        reason = str(err).replace(str(path), "file")
        raise OSError(f"image file {path} cannot be decoded as an image ({type(err).__name__}: {reason})") from err


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of the upright image (as :func:`read_image` returns it), from the header only."""
    with Image.open(path) as image:
        width, height = image.size
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
    return (height, width) if orientation in ROTATED_ORIENTATIONS else (width, height)


def check_images(root: Path, image_paths: list[str]) -> Mapping[str, tuple[int, int]]:
    """Decode every image once; return ``{path: (width, height)}`` (upright), or raise naming the bad files.

    Raises:
        FileNotFoundError: images are missing.
        OSError: images cannot be decoded completely (corrupt, truncated, not an image).
    """
    missing = [p for p in image_paths if not (root / p).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} labeled image(s) listed in the label files are missing under "
                                f"{root}: {missing[:5]}; every labeled frame needs its image file")
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:  # Pillow decodes without the GIL
        results = list(pool.map(_decoded_size, [root / p for p in image_paths]))
    corrupt = [f"{path} ({result})" for path, result in zip(image_paths, results) if isinstance(result, str)]
    if corrupt:
        raise OSError(f"{len(corrupt)} labeled image(s) under {root} cannot be decoded as images: "
                      f"{'; '.join(corrupt[:MAX_LISTED])}. Replace them with readable PNG/JPEG files (or remove "
                      "their rows from the label files)")
    return dict(zip(image_paths, results))


def _decoded_size(path: Path) -> tuple[int, int] | str:
    """``(width, height)`` of the fully decoded image, or why it cannot be decoded."""
    try:
        height, width = read_image(path).shape[:2]
    except OSError as err:
        cause = err.__cause__ or err
        return f"{type(cause).__name__}: {str(cause).replace(str(path), 'file')}"
    return width, height


class DecodedImages:
    """Images decoded once and held in memory: ``images(path)`` returns the cached ``[H, W, 3]`` uint8 array
    (and decodes any other path with :func:`read_image`).

    Opt-in (``PoseDataModule(cache_images=True)``) for projects that fit in memory: training then
    decodes no image after setup. DataLoader workers started by fork share the arrays with the main
    process (nothing writes to them: transforms warp into new arrays).
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            self.images = dict(zip(map(Path, paths), pool.map(read_image, paths)))

    @property
    def nbytes(self) -> int:
        return sum(image.nbytes for image in self.images.values())

    def __call__(self, path: str | Path) -> np.ndarray:
        image = self.images.get(Path(path))
        return read_image(path) if image is None else image
