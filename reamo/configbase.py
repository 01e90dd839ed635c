"""Typed, validated configuration dataclasses (litgpt style) and safe YAML loading.

Every config in Reamo is a dataclass deriving from `Config`. `Config.from_dict` checks that every key exists
and every value has the declared type, recursing into nested configs, and raises `ConfigError` naming the
dotted key and the bad value. Dataclasses validate their own ranges in `__post_init__` via `self.check(...)`.
YAML is read with `yaml.safe_load` only (no arbitrary tags).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

from reamo.errors import ConfigError

T = TypeVar("T", bound="Config")


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError("<file>", str(path), "config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError("<file>", str(path), f"not valid YAML (only plain YAML is accepted): {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("<root>", type(data).__name__, "a config file must hold a mapping", source=str(path))
    return data


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str, source: str | None) -> Any:
    """Check `value` against annotation `tp` and convert nested dicts to dataclasses."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key, source)
            except ConfigError as e:
                errors.append(e.problem)
        raise ConfigError(key, value, f"expected {' or '.join(_type_name(a) for a in args)}", source)
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(key, value, f"must be one of {list(typing.get_args(tp))}", source)
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(key, value, f"expected a mapping for {tp.__name__}", source)
        return tp.from_dict(value, prefix=key + ".", source=source)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, value, "expected a list", source)
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(key, value, f"expected {len(args)} items", source)
            return tuple(_coerce(v, a, f"{key}[{i}]", source) for i, (v, a) in enumerate(zip(value, args)))
        inner = args[0] if args else Any
        out = [_coerce(v, inner, f"{key}[{i}]", source) for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, value, "expected a mapping", source)
        kt, vt = (typing.get_args(tp) or (Any, Any))
        return {_coerce(k, kt, f"{key}.<key>", source): _coerce(v, vt, f"{key}.{k}", source) for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key, value, "expected a number", source)
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, value, "expected an integer", source)
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, value, "expected true or false", source)
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(key, value, "expected a string", source)
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(key, value, f"expected {_type_name(tp)}", source)
    return value


@dataclasses.dataclass
class Config:
    """Base class: `from_dict`, `from_yaml`, `to_dict`, `check`."""

    def check(self, ok: bool, key: str, problem: str) -> None:
        """For `__post_init__`: raise ConfigError for field `key` unless `ok`."""
        if not ok:
            raise ConfigError(key, getattr(self, key.split(".")[-1], None), problem)

    def check_choices(self, values, allowed, key: str, what: str) -> None:
        """For `__post_init__`: every item of `values` must be in `allowed`."""
        bad = [v for v in values if v not in allowed]
        self.check(not bad, key, f"unknown {what} {bad[0] if bad else ''!r}; choose from {list(allowed)}")

    @classmethod
    def from_dict(cls: type[T], data: dict, prefix: str = "", source: str | None = None) -> T:
        if not isinstance(data, dict):
            raise ConfigError(prefix.rstrip(".") or "<root>", data, f"expected a mapping for {cls.__name__}", source)
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = [k for k in data if k not in fields]
        if unknown:
            raise ConfigError(prefix + str(unknown[0]), data[unknown[0]],
                              f"unknown key for {cls.__name__} (known: {', '.join(sorted(fields))})", source)
        kwargs = {k: _coerce(v, hints[k], prefix + k, source) for k, v in data.items()}
        try:
            return cls(**kwargs)
        except ConfigError as e:
            if e.key.startswith(prefix):
                raise
            raise ConfigError(prefix + e.key, e.value, e.problem, source) from None
        except TypeError as e:  # missing required field
            raise ConfigError(prefix.rstrip(".") or "<root>", data, str(e), source) from None

    @classmethod
    def from_yaml(cls: type[T], path: str | Path, overrides: dict | None = None) -> T:
        data = load_yaml(path)
        if overrides:
            data = deep_update(data, overrides)
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict:
        def conv(v):
            if dataclasses.is_dataclass(v):
                return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
            if isinstance(v, (list, tuple)):
                return [conv(x) for x in v]
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            return v
        return conv(self)

    def to_yaml(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    def replace(self: T, **changes) -> T:
        return dataclasses.replace(self, **changes)


def deep_update(base: dict, overrides: dict) -> dict:
    """Return a copy of `base` with `overrides` merged in; dotted keys ("a.b.c": 1) address nested mappings."""
    out = dict(base)
    for k, v in overrides.items():
        if isinstance(k, str) and "." in k:
            head, rest = k.split(".", 1)
            out[head] = deep_update(out.get(head) or {}, {rest: v})
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_update(out[k], v)
        else:
            out[k] = v
    return out
