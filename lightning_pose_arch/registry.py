"""Registries: build any model part from a plain dict.

A registry maps a ``type`` name to a class. ``build(cfg)`` takes a dict with
``type`` plus the constructor's keyword arguments. Nested dicts that carry a
``type`` are built first, by the registry whose base class matches the
constructor's annotation for that argument, so constructors only ever receive
built objects. Every key is passed through: an unknown ``type`` or key raises
:class:`ConfigError` naming the registry, the bad name and the closest valid
names. The caller's dict is never mutated.

Example:
    >>> from lightning_pose_arch.models.backbones import BACKBONES
    >>> backbone = BACKBONES.build(dict(type="ResNet", variant="50"))
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_REGISTRIES: list[Registry] = []


class ConfigError(ValueError):
    """A configuration names something that does not exist or cannot be built."""


def did_you_mean(name: str, choices: typing.Iterable[str]) -> str:
    """Return a ``"; did you mean 'x'?"`` hint for ``name`` among ``choices`` (or "")."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?"


class Registry(Generic[T]):
    """Name → class table for one kind of model part.

    Args:
        name: Registry name used in error messages (e.g. ``"HEADS"``).
        base_class: Every member must subclass it; nested dicts are routed to
            the registry whose ``base_class`` matches a constructor annotation.
    """

    def __init__(self, name: str, base_class: type[T]) -> None:
        self.name = name
        self.base_class = base_class
        self._members: dict[str, type[T]] = {}
        _REGISTRIES.append(self)

    def register(self, cls: type[T]) -> type[T]:
        """Class decorator: register ``cls`` under its class name."""
        if not (isinstance(cls, type) and issubclass(cls, self.base_class)):
            raise TypeError(f"{self.name} accepts subclasses of {self.base_class.__name__}, got {cls!r}")
        if cls.__name__ in self._members:
            raise KeyError(f"{self.name} already has a member named {cls.__name__!r}")
        self._members[cls.__name__] = cls
        return cls

    def names(self) -> list[str]:
        """Sorted names of all registered classes."""
        return sorted(self._members)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.name}, members={self.names()})"

    def get(self, name: str) -> type[T]:
        """Return the class registered as ``name``; raise :class:`ConfigError` if unknown."""
        if name not in self._members:
            raise ConfigError(
                f"{self.name} has no type {name!r}{did_you_mean(name, self._members)} "
                f"Registered types: {', '.join(self.names())}."
            )
        return self._members[name]

    def build(self, cfg: Mapping[str, Any] | T | None) -> T | None:
        """Build a member from ``cfg`` (a dict with ``type``).

        ``None`` and already built objects are returned as they are.
        """
        if cfg is None or isinstance(cfg, self.base_class):
            return cfg
        if not isinstance(cfg, Mapping):
            raise ConfigError(f"{self.name}.build expects a dict with a 'type' key, got {type(cfg).__name__}: {cfg!r}")
        if "type" not in cfg:
            raise ConfigError(f"{self.name}: config has no 'type' key: {dict(cfg)!r}. Valid types: {', '.join(self.names())}.")
        cls = self.get(cfg["type"])
        kwargs = {key: value for key, value in cfg.items() if key != "type"}
        check_keys(cls, kwargs, where=f"{self.name} type {cls.__name__!r}")
        hints = _constructor_hints(cls)
        built = {key: _build_nested(value, hints.get(key)) for key, value in kwargs.items()}
        try:
            return cls(**built)
        except Exception as err:
            err.add_note(f"while building {self.name} type {cls.__name__!r} from {dict(cfg)!r}")
            raise


def check_keys(cls: Callable[..., Any], kwargs: Mapping[str, Any], where: str) -> None:
    """Raise :class:`ConfigError` when ``kwargs`` has a key ``cls`` does not accept."""
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    valid = [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in kwargs:
        if key not in valid:
            raise ConfigError(
                f"{where} has no argument {key!r}{did_you_mean(key, valid)} Valid arguments: {', '.join(valid)}."
            )


def _constructor_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable forward references: fall back to registry search by name
        return {}


def _registry_for(annotation: Any) -> Registry | None:
    """The registry whose base class appears in ``annotation`` (unions, Optional, dict values)."""
    if isinstance(annotation, type):
        return next((r for r in _REGISTRIES if issubclass(annotation, r.base_class)), None)
    for arg in typing.get_args(annotation):
        found = _registry_for(arg)
        if found is not None:
            return found
    return None


def _registry_by_type_name(name: str) -> Registry | None:
    matches = [r for r in _REGISTRIES if name in r]
    return matches[0] if len(matches) == 1 else None


def _build_nested(value: Any, annotation: Any) -> Any:
    """Build ``value`` if it is a typed dict (or a dict/list of them) meant for a registry."""
    if not isinstance(value, Mapping):
        return value
    registry = _registry_for(annotation) if annotation is not None else None
    if "type" in value:
        registry = registry or _registry_by_type_name(value["type"])
        return registry.build(value) if registry is not None else value
    if registry is not None and value and all(isinstance(v, Mapping) and "type" in v for v in value.values()):
        return {key: registry.build(v) for key, v in value.items()}
    return value

