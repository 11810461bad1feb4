"""Reading params.yaml and checking a section against its dataclass, key by key.

`build` turns a mapping into a (frozen) config dataclass, recursively: an unknown key, a wrong
type or a value out of a field's bounds (declared with `param`) raises `ConfigError` with one
line naming the key and the value.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import field
from pathlib import Path
from typing import Any, Literal

import yaml

from reslab.core.errors import ConfigError

PARAMS_FILE = Path("params.yaml")


def param(*, ge=None, gt=None, le=None, lt=None):
    """A dataclass field (without a default: params.yaml says every value) whose numeric bounds
    are checked at load time."""
    bounds = {k: v for k, v in {"ge": ge, "gt": gt, "le": le, "lt": lt}.items() if v is not None}
    return field(metadata={"bounds": bounds})


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _check(key: str, value: Any, tp, meta: dict) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return build(tp, value, key)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(str, choices))}")
        return value
    if origin in (types.UnionType, typing.Union):  # the first member that accepts the value
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        members = [a for a in args if a is not type(None)]
        for inner in members:
            try:
                return _check(key, value, inner, meta)
            except ConfigError:
                if len(members) == 1:
                    raise
        names = [n for a in members for n in (
            ["true", "false"] if a is bool else map(str, typing.get_args(a))
            if typing.get_origin(a) is Literal else [_type_name(a)])]
        raise ConfigError(f"{key}: expected {', '.join(names[:-1])} or {names[-1]}, "
                          f"got {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (inner,) = typing.get_args(tp)
        return [_check(f"{key}[{i}]", v, inner, meta) for i, v in enumerate(value)]
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, int | float) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[tp]
    if not ok:
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    value = float(value) if tp is float else value
    bounds = meta.get("bounds", {})
    for name, limit in bounds.items():
        good = {"ge": value >= limit, "gt": value > limit, "le": value <= limit,
                "lt": value < limit}[name]
        if not good:
            sym = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}[name]
            raise ConfigError(f"{key}: {value!r} is out of range (must be {sym} {limit})")
    return value


def build(cls, raw: dict, prefix: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}.{unknown[0]}: unknown key (known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = _check(f"{prefix}.{name}", raw[name], hints[name], dict(f.metadata))
        else:
            raise ConfigError(f"{prefix}.{name}: missing key (params.yaml states every value)")
    return cls(**values)


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads `1e-3` as a string; DVC (YAML 1.2) reads it as a float. Agree with DVC."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)


def read_params(path: Path = PARAMS_FILE) -> dict:
    """The whole params file as a dict, with a one-line error for a missing or malformed file."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    try:
        raw = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}: malformed YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(raw).__name__}")
    return raw
