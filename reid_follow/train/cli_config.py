"""Config dataclasses from the command line: a YAML file, ``--set dotted.name=value``, shortcuts.

The same dotted names as the dataclass fields (``optim.lr``, ``data.mot.min_height``), so every
parameter is settable and ``--params`` can list them all with their documentation.
"""
from __future__ import annotations

import argparse
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ..config_base import ConfigError, docs, flatten, flatten_mapping, from_flat

T = TypeVar("T")


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="", help="YAML file of parameters (nested mapping of the dotted names)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="override one parameter, e.g. optim.lr=1e-3 or data.mot.min_height=64 (repeatable)")
    p.add_argument("--params", action="store_true", help="list every parameter with its default and exit")


def describe(cls: type) -> str:
    """``name = default  # doc`` lines for ``--params``."""
    defaults = flatten(cls())
    return "\n".join(f"{name} = {defaults[name]!r}  # {doc}" for name, doc in docs(cls).items())


def load_config(cls: type[T], config_file: str, sets: list[str], shortcuts: dict[str, Any]) -> T:
    """``cls`` from defaults < YAML file < ``--set`` < shortcut flags that were given (not None)."""
    values: dict[str, Any] = {}
    if config_file:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping of parameters, got {type(loaded).__name__}")
        values.update(flatten_mapping(loaded))
    for item in sets:
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects NAME=VALUE, got {item!r}")
        values[name.strip()] = value.strip()
    values.update({k: v for k, v in shortcuts.items() if v is not None})
    return from_flat(cls, values)


def to_yaml(obj: Any) -> str:
    """Nested YAML of a config instance (written next to results, loadable with ``--config``)."""
    def nested(o: Any) -> dict[str, Any]:
        return {f.name: nested(getattr(o, f.name)) if is_dataclass(getattr(o, f.name)) else getattr(o, f.name)
                for f in fields(o)}
    return yaml.safe_dump(nested(obj), sort_keys=False)
