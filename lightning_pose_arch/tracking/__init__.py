"""Identities through video: trackers (the ``TRACKERS`` registry) and tracklet stitching.

    >>> from lightning_pose_arch.tracking import build_tracker
    >>> tracker = build_tracker({"type": "KalmanTracker", "max_gap": 100})
    >>> tracks = tracker.track(detections, num_individuals=3)   # [T, M, K, 3] → [T, 3, K, 3]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lightning_pose_arch.registry import ConfigError
from lightning_pose_arch.tracking.base import TRACKERS, BaseTracker
from lightning_pose_arch.tracking.trackers import KalmanTracker

DEFAULT_TRACKER: dict[str, Any] = {"type": "KalmanTracker"}
NO_TRACKER = "none"

__all__ = ["DEFAULT_TRACKER", "NO_TRACKER", "TRACKERS", "BaseTracker", "KalmanTracker", "build_tracker"]


def build_tracker(spec: str | Path | Mapping[str, Any] | BaseTracker | None = None) -> BaseTracker | None:
    """A tracker from a config: ``None`` (the default tracker), ``"none"`` (no tracking: returns ``None``),
    a registered name (``"KalmanTracker"``), a dict, a YAML/JSON dict as text
    (``'{type: KalmanTracker, max_gap: 50}'``) or the path of a ``.yaml``/``.json`` file holding one."""
    if spec is None:
        return TRACKERS.build(DEFAULT_TRACKER)
    if isinstance(spec, (BaseTracker, Mapping)):
        return TRACKERS.build(spec)
    text = str(spec).strip()
    if text.lower() == NO_TRACKER:
        return None
    if text in TRACKERS:
        return TRACKERS.build({"type": text})
    path = Path(text)
    if path.suffix in (".yaml", ".yml", ".json") and path.is_file():
        text = path.read_text()
    try:
        config = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"tracker {spec!r} is neither a tracker name ({', '.join(TRACKERS.names())}, "
                          f"{NO_TRACKER!r}) nor a YAML/JSON dict: {err}") from err
    if not isinstance(config, Mapping):
        raise ConfigError(f"tracker {spec!r} is neither a tracker name ({', '.join(TRACKERS.names())}, "
                          f"{NO_TRACKER!r}) nor a YAML/JSON dict with a 'type' key")
    return TRACKERS.build(config)
