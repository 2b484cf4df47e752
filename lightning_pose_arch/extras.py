"""Optional dependencies (the package's extras): one check, one message."""

from __future__ import annotations

import importlib
from collections.abc import Sequence


def require_extra(feature: str, packages: Sequence[str], extra: str, alternative: str = "") -> None:
    """Raise ``ImportError`` naming the missing package and ``pip install 'lightning_pose_arch[<extra>]'``
    when any of ``packages`` cannot be imported (``alternative``: a way around it, appended)."""
    for package in packages:
        try:
            importlib.import_module(package)
        except ImportError as err:
            around = f" ({alternative})" if alternative else ""
            raise ImportError(f"{feature} needs the {package!r} package: pip install "
                              f"'lightning_pose_arch[{extra}]'{around}") from err
