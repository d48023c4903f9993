"""Config machinery: documented dataclass fields, flattened to dotted ROS parameter names.

Every tunable is a dataclass field declared with :func:`param`, which carries its documentation.
Nested dataclasses become dotted ROS parameter names (``follow.reacquire_confirmations``), which
is also how ROS 2 reads nested keys from a ``node: ros__parameters:`` YAML file.
"""
from __future__ import annotations

import math
import typing
from dataclasses import field, fields, is_dataclass
from typing import Any

import yaml

PARAM_DOC = "doc"
PARAM_RANGE = "range"


def param(default: Any, doc: str, low: float | None = None, high: float | None = None) -> Any:
    """A documented dataclass field; lists are copied per instance.

    ``low``/``high`` (inclusive) are checked whenever values are read (parameter files,
    overrides, ``ros2 param set``) and become the ROS parameter's descriptor range, so
    ``ros2 param describe`` shows the same bounds the code enforces.
    """
    metadata: dict[str, Any] = {PARAM_DOC: doc}
    if low is not None or high is not None:
        metadata[PARAM_RANGE] = (low, high)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=metadata)
    return field(default=default, metadata=metadata)


def section(cls: type, doc: str) -> Any:
    """A nested dataclass field (a group of parameters with a dotted prefix)."""
    return field(default_factory=cls, metadata={PARAM_DOC: doc})


class ConfigError(ValueError):
    """A parameter file or override that does not fit the dataclasses."""


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """``{dotted_name: value}`` for every leaf parameter of a config dataclass instance."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        name = f"{prefix}{f.name}"
        if is_dataclass(value):
            out.update(flatten(value, name + "."))
        else:
            out[name] = list(value) if isinstance(value, (list, tuple)) else value
    return out


def docs(cls: type, prefix: str = "") -> dict[str, str]:
    """``{dotted_name: documentation}`` for every leaf parameter of a config dataclass."""
    out: dict[str, str] = {}
    hints = _field_types(cls)
    for f in fields(cls):
        name = f"{prefix}{f.name}"
        if is_dataclass(hints[f.name]):
            out.update(docs(hints[f.name], name + "."))
        else:
            out[name] = f.metadata.get(PARAM_DOC, "")
    return out


def markdown_table(cls: type, prefix: str = "") -> str:
    """A Markdown table (parameter, default, meaning) of every leaf parameter of a config dataclass:
    the parameter tables in docs/ are this, so they cannot drift from the code."""
    rows = ["| parameter | default | meaning |", "|---|---|---|"]
    meaning = docs(cls, prefix)
    for name, value in flatten(cls(), prefix).items():
        rows.append(f"| `{name}` | `{value!r}` | {meaning[name].replace('|', '/')} |")
    return "\n".join(rows) + "\n"


def ranges(cls: type, prefix: str = "") -> dict[str, tuple[float | None, float | None]]:
    """``{dotted_name: (low, high)}`` of every leaf parameter declared with bounds."""
    out: dict[str, tuple[float | None, float | None]] = {}
    hints = _field_types(cls)
    for f in fields(cls):
        name = f"{prefix}{f.name}"
        if is_dataclass(hints[f.name]):
            out.update(ranges(hints[f.name], name + "."))
        elif PARAM_RANGE in f.metadata:
            out[name] = f.metadata[PARAM_RANGE]
    return out


def _check_range(name: str, value: Any, bounds: tuple[float | None, float | None] | None) -> Any:
    if bounds is not None:
        low, high = bounds
        if (low is not None and value < low) or (high is not None and value > high):
            lo = "-inf" if low is None else low
            hi = "inf" if high is None else high
            raise ConfigError(f"parameter '{name}' must be in [{lo}, {hi}], got {value!r}")
    return value


def _coerce(name: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"parameter '{name}' must be a bool, got {value!r}")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(f"parameter '{name}' must be an int, got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"parameter '{name}' must be an int, got {value!r}") from None
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"parameter '{name}' must be a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"parameter '{name}' must be a number, got {value!r}") from None
        except OverflowError:   # an int too large for a float
            raise ConfigError(f"parameter '{name}' must be a finite number, got {value!r}") from None
        if not math.isfinite(number):
            raise ConfigError(f"parameter '{name}' must be a finite number, got {value!r}")
        return number
    if hint is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"parameter '{name}' must be a string, got {value!r}")
        return str(value)
    if origin is list:
        (item,) = typing.get_args(hint)
        if isinstance(value, str):
            try:
                value = yaml.safe_load(value)
            except (yaml.YAMLError, ValueError, RecursionError):
                raise ConfigError(f"parameter '{name}' must be a list, got {value!r}") from None
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"parameter '{name}' must be a list, got {value!r}")
        return [_coerce(f"{name}[{i}]", v, item) for i, v in enumerate(value)]
    raise ConfigError(f"parameter '{name}' has unsupported type {hint!r}")


def from_flat(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    """Build ``cls`` from dotted names; unknown names raise, absent ones keep their default."""
    known = set(docs(cls, prefix))
    unknown = sorted(k for k in values if k.startswith(prefix) and k not in known) if prefix else \
        sorted(k for k in values if k not in known)
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown}; valid: {sorted(known)}")
    hints = _field_types(cls)
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        name = f"{prefix}{f.name}"
        hint = hints[f.name]
        if is_dataclass(hint):
            kwargs[f.name] = from_flat(hint, {k: v for k, v in values.items() if k.startswith(name + ".")},
                                       name + ".")
        elif name in values:
            kwargs[f.name] = _check_range(name, _coerce(name, values[name], hint), f.metadata.get(PARAM_RANGE))
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def flatten_mapping(d: dict[str, Any], prefix: str = "", _parents: tuple[int, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            if id(v) in _parents or v is d:
                raise ConfigError(f"parameter '{name}' contains itself (a recursive YAML alias)")
            out.update(flatten_mapping(v, name + ".", (*_parents, id(d))))
        else:
            out[name] = v
    return out
