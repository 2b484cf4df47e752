"""YAML input (project ``config.yaml``, recipes, ``lpa fit --config``): safe, and duplicate keys refused.

PyYAML keeps the last of two equal keys in a mapping, so a recipe with a section written twice
silently trains with the second. Every YAML this package reads goes through
:func:`check_unique_keys` first: :func:`load_yaml` for files it opens itself, and
:func:`install_cli_yaml_loader` for everything jsonargparse (LightningCLI) parses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonargparse
import yaml

from lightning_pose_arch.registry import ConfigError

MERGE_KEY = "<<"  # YAML merge keys may repeat: they are not data keys


class DuplicateKeyError(yaml.YAMLError):
    """A YAML mapping lists the same key twice."""


def check_unique_keys(text: str, source: str = "<yaml>") -> None:
    """Raise :class:`DuplicateKeyError` naming ``source``, both lines and the key when a mapping repeats a key.

    Parses the node tree only (no values are constructed), with the safe loader.
    """
    loader = yaml.SafeLoader(text)  # what yaml.compose does, with the safe loader
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    pending = [root] if root is not None else []
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                if name in seen and name != MERGE_KEY:
                    first = seen[name].start_mark.line + 1
                    raise DuplicateKeyError(
                        f"{source}: key {name!r} appears twice in one mapping (lines {first} and "
                        f"{key.start_mark.line + 1}); YAML would silently keep only the second: "
                        "merge the two into one entry")
                if name is not None:
                    seen[name] = key
                pending.append(value)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML mapping file with the safe loader, refusing duplicate keys; errors name the file.

    Raises:
        ConfigError: invalid YAML, a duplicate key, or not a mapping.
    """
    path = Path(path)
    text = path.read_text()
    try:
        check_unique_keys(text, str(path))
        content = yaml.safe_load(text)
    except DuplicateKeyError as err:
        raise ConfigError(str(err)) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a YAML mapping, got {type(content).__name__}")
    return content


def install_cli_yaml_loader() -> None:
    """Make jsonargparse (hence LightningCLI: ``--config`` files, nested config files, values) refuse
    duplicate keys, keeping its own loader for everything else. Idempotent."""
    current = jsonargparse.get_loader("yaml")
    if getattr(current, "refuses_duplicate_keys", False):
        return

    def load_unique(text: str) -> Any:
        check_unique_keys(text, "config")
        return current(text)

    load_unique.refuses_duplicate_keys = True  # type: ignore[attr-defined]
    jsonargparse.set_loader("yaml", load_unique, exceptions=(yaml.YAMLError,))
