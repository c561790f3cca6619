"""Frozen, validated configuration dataclasses: dict/YAML/JSON round trips and overrides.

Every config in amrkit is a ``@dataclass(frozen=True)`` that validates itself in
``__post_init__`` (raising :class:`AmrkitError`). The helpers here build one from a mapping
(unknown keys are errors), apply overrides, serialize it to plain JSON types and hash it, so
that every artifact can store the config that made it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from amrkit.errors import AmrkitError
from amrkit.fileio import json_safe

T = TypeVar("T")


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config as plain JSON-able types (tuples become lists, inf stays a float)."""
    if not dataclasses.is_dataclass(cfg):
        raise TypeError(f"not a dataclass: {cfg!r}")
    return {f.name: _plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def to_json(cfg: Any) -> str:
    """Canonical JSON (sorted keys; ``inf`` written as the string "inf")."""
    return json.dumps(json_safe(to_dict(cfg)), sort_keys=True)


def config_hash(cfg: Any, length: int = 16) -> str:
    """A short, stable hash of a config (or any JSON-able mapping)."""
    text = (
        to_json(cfg)
        if dataclasses.is_dataclass(cfg)
        else json.dumps(json_safe(_plain(cfg)), sort_keys=True)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def from_dict(cls: type[T], data: Mapping[str, Any], *, where: str = "") -> T:
    """Build ``cls`` from a mapping; unknown keys and wrong types are :class:`AmrkitError`.

    Nested dataclass fields (and tuples of them) are built recursively; lists become tuples.
    """
    if not isinstance(data, Mapping):
        raise AmrkitError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise AmrkitError(
            f"{where or cls.__name__}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(fields))}"
        )
    missing = sorted(
        name
        for name, f in fields.items()
        if name not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    )
    if missing:
        raise AmrkitError(
            f"{where or cls.__name__}: missing required key(s) {', '.join(map(repr, missing))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {
        name: _coerce(hints[name], value, f"{where or cls.__name__}.{name}")
        for name, value in data.items()
    }
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        last: Exception | None = None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except (AmrkitError, TypeError, ValueError) as exc:
                last = exc
        raise AmrkitError(f"{where}: invalid value {value!r} ({last})")
    if dataclasses.is_dataclass(tp):
        return value if isinstance(value, tp) else from_dict(tp, value, where=where)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise AmrkitError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if args and len(args) != len(value):
            raise AmrkitError(f"{where}: expected {len(args)} values, got {len(value)}")
        return (
            tuple(
                _coerce(a, v, f"{where}[{i}]")
                for i, (a, v) in enumerate(zip(args, value, strict=False))
            )
            if args
            else tuple(value)
        )
    if origin is typing.Literal:
        if value not in args:
            raise AmrkitError(
                f"{where}: {value!r} is not allowed; choose one of {', '.join(map(repr, args))}"
            )
        return value
    if tp is float:
        if isinstance(value, bool):
            raise AmrkitError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise AmrkitError(f"{where}: expected a number, got {value!r}") from None
        if isinstance(value, (int, float)):
            return float(value)
        raise AmrkitError(f"{where}: expected a number, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise AmrkitError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise AmrkitError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise AmrkitError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def replace(cfg: T, **overrides: Any) -> T:
    """A copy with fields overridden (``None`` values are ignored: "not given on the CLI")."""
    given = {k: v for k, v in overrides.items() if v is not None}
    merged = {**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}, **given}
    return from_dict(type(cfg), merged)


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file into a dict, with a one-line error if it cannot be read."""
    p = Path(path)
    if not p.is_file():
        raise AmrkitError(
            f"config file {str(p)!r} does not exist; pass an existing .yaml/.json file"
        )
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise AmrkitError(f"cannot read config file {str(p)!r} ({reason})") from None
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parse error becomes one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AmrkitError(f"config file {str(p)!r} is not valid YAML/JSON: {first}") from None
    if not isinstance(data, dict):
        raise AmrkitError(f"config file {str(p)!r} must hold a mapping at the top level")
    return data


def from_file(cls: type[T], path: str | Path, **overrides: Any) -> T:
    """Build ``cls`` from a YAML/JSON file, then apply non-``None`` overrides."""
    data = load_mapping(path)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(cls, data, where=str(path))
