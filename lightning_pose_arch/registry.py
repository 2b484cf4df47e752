"""Registries: build any model part from a plain dict.

A registry maps a ``type`` name to a class. ``build(cfg)`` takes a dict with
``type`` plus the constructor's keyword arguments. Nested dicts that carry a
``type`` are built first, by the registry whose base class matches the
constructor's annotation for that argument, so constructors only ever receive
built objects. Every key is passed through: an unknown ``type`` or key raises
:class:`ConfigError` naming the registry, the bad name and the closest valid
names, and a value that does not fit its annotation (``num_deconv_layers:
"two"``) raises one naming the argument, the value and the expected type.
The caller's dict is never mutated.

Example:
    >>> from lightning_pose_arch.models.backbones import BACKBONES
    >>> backbone = BACKBONES.build(dict(type="ResNet", variant="50"))
"""

from __future__ import annotations

import collections.abc
import difflib
import inspect
import numbers
import os
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import PurePath
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")

_REGISTRIES: list[Registry] = []


class ConfigError(ValueError):
    """A configuration names something that does not exist or cannot be built."""


def did_you_mean(name: str, choices: typing.Iterable[str]) -> str:
    """Return a ``"; did you mean 'x'?"`` hint for ``name`` among ``choices`` (or "")."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    if not close:
        return ""
    best = difflib.SequenceMatcher(None, name, close[0]).ratio()
    # only near-ties with the best: 'optimiser' is 'optimizer', not also 'compile' (ratio 0.5)
    close = [c for c in close if difflib.SequenceMatcher(None, name, c).ratio() >= best - 0.15]
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
                f"{self.name} has no type {name!r}{did_you_mean(name, self._members) or '.'} "
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
        check_types(cls, built, where=f"{self.name} type {cls.__name__!r}", hints=hints)
        try:
            return cls(**built)
        except Exception as err:
            note = f"while building {self.name} type {cls.__name__!r} from {dict(cfg)!r}"
            if hasattr(err, "add_note"):
                err.add_note(note)
            else:  # Python 3.10: PEP 678's storage, which 3.10's traceback does not print
                err.__notes__ = [*getattr(err, "__notes__", []), note]
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
                f"{where} has no argument {key!r}{did_you_mean(key, valid) or '.'} Valid arguments: {', '.join(valid)}."
            )


def check_types(
    cls: Callable[..., Any], kwargs: Mapping[str, Any], where: str, hints: Mapping[str, Any] | None = None
) -> None:
    """Raise :class:`ConfigError` when a value in ``kwargs`` does not fit ``cls``'s annotation for it.

    Checked: ``bool``, ``int``, ``float`` (ints accepted; bools are not numbers here), ``str``,
    paths, ``Literal``, unions/``Optional``, ``list``/``tuple``/``Sequence`` (a list or a tuple,
    item by item), ``dict``/``Mapping`` (value by value) and plain classes (``isinstance``).
    Anything else (``Any``, callables, iterables, ...) is not checked.
    """
    hints = _constructor_hints(cls) if hints is None else hints
    for key, value in kwargs.items():
        if key not in hints:
            continue
        found = _mismatch(value, hints[key])
        if found is not None:
            path, expected, bad = found
            raise ConfigError(f"{where} argument {key}{path} must be {_describe(expected)}, "
                              f"got {bad!r} ({type(bad).__name__})")


def _mismatch(value: Any, annotation: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """``(path to the offending item, its expected annotation, the item)``, or ``None`` when ``value`` fits."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        found = [_mismatch(value, arg, path) for arg in args]
        if any(f is None for f in found):
            return None
        nested = [f for f in found if f[0] != path]  # an inner item of a container that matched
        return nested[0] if len(nested) == 1 else (path, annotation, value)
    if origin is Literal:
        return None if any(_literal_equal(value, a) for a in args) else (path, annotation, value)
    if origin in _SEQUENCES or annotation in _SEQUENCES:
        return _sequence_mismatch(value, annotation, path)
    if origin in _MAPPINGS or annotation in _MAPPINGS:
        if not isinstance(value, Mapping):
            return path, annotation, value
        item_type = args[1] if len(args) == 2 else Any
        return next(filter(None, (_mismatch(v, item_type, f"{path}[{k!r}]") for k, v in value.items())), None)
    return None if _fits_class(value, annotation) else (path, annotation, value)


_SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.MutableSequence)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


def _sequence_mismatch(value: Any, annotation: Any, path: str) -> tuple[str, Any, Any] | None:
    if not isinstance(value, (list, tuple)):
        return path, annotation, value
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            return path, annotation, value
        item_types = list(args)
    else:
        item_types = [args[0] if args else Any] * len(value)
    found = (_mismatch(v, t, f"{path}[{i}]") for i, (v, t) in enumerate(zip(value, item_types)))
    return next(filter(None, found), None)


def _literal_equal(value: Any, member: Any) -> bool:
    """``value`` is the Literal ``member``; a YAML number names a string member too (``variant: 50``)."""
    if isinstance(member, str) and isinstance(value, int) and not isinstance(value, bool):
        return str(value) == member
    return value == member and isinstance(value, bool) == isinstance(member, bool)


def _fits_class(value: Any, annotation: Any) -> bool:
    if annotation is type(None) or annotation is None:
        return value is None
    if annotation is bool:
        return isinstance(value, bool) or type(value).__name__ == "bool_"  # numpy booleans
    if annotation in (int, float):
        number = numbers.Integral if annotation is int else numbers.Real
        return isinstance(value, number) and not isinstance(value, bool)
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return isinstance(value, (str, os.PathLike))
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return isinstance(value, annotation)
    return True  # Any, TypeVars, callables, iterables, ...: not checked


def _describe(annotation: Any) -> str:
    """Readable name of an annotation: ``int``, ``tuple[int, int]``, ``str | Path``, ``one of 'train', 'val'``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_describe(a) for a in args)
    if annotation is type(None):
        return "None"
    if origin is not None and args:
        items = ", ".join("..." if a is Ellipsis else _describe(a) for a in args)
        return f"{getattr(origin, '__name__', origin)}[{items}]"
    return getattr(annotation, "__name__", str(annotation))


def _constructor_hints(cls: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls.__init__ if isinstance(cls, type) else cls)
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



def check_cfg_keys(cfg: Any, where: str, required: str, valid: Sequence[str]) -> None:
    """Raise :class:`ConfigError` unless ``cfg`` is a mapping with ``required`` and only ``valid`` keys."""
    if not isinstance(cfg, Mapping) or required not in cfg:
        optional = ", ".join(key for key in valid if key != required)
        raise ConfigError(f"{where} cfg must be a dict with a {required!r} key (and optionally {optional}), got {cfg!r}")
    for key in cfg:
        if key not in valid:
            raise ConfigError(f"{where} cfg has no key {key!r}{did_you_mean(key, valid) or '.'} "
                              f"Valid keys: {', '.join(valid)}.")
