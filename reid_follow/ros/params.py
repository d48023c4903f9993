"""Declare a config dataclass as ROS parameters (documented, ranged) and keep the live ones applied.

Parameters a node reads once (models, devices, topics, sizes of its buffers) are declared
read-only, so ``ros2 param set`` says so instead of storing a value nobody reads. The others
(thresholds, rules, debug output) are applied while the node runs, through the same validation
as at start-up (``from_flat``: types, ranges, each dataclass's ``validate``).
"""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import is_dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter

from reid_follow.config_base import ConfigError, docs, flatten, from_flat, ranges

INT_LIMIT = 2**63 - 1


def descriptor(name: str, default: Any, doc: str, bounds: tuple[float | None, float | None] | None,
               live: bool) -> ParameterDescriptor:
    """What ``ros2 param describe`` shows: the doc text, whether it can change live, the range."""
    d = ParameterDescriptor(name=name, read_only=not live,
                            description=f"{doc} ({'can be changed while running' if live else 'read-only: set at start'})")
    if bounds is not None and isinstance(default, float):
        low, high = bounds
        d.floating_point_range = [FloatingPointRange(from_value=-sys.float_info.max if low is None else float(low),
                                                     to_value=sys.float_info.max if high is None else float(high),
                                                     step=0.0)]
    elif bounds is not None and isinstance(default, int) and not isinstance(default, bool):
        low, high = bounds
        d.integer_range = [IntegerRange(from_value=-INT_LIMIT if low is None else int(low),
                                        to_value=INT_LIMIT if high is None else int(high), step=1)]
    return d


def apply_flat(obj: Any, values: dict[str, Any]) -> None:
    """Set dotted-name leaf values on a config dataclass in place (the node's core holds ``obj``)."""
    for name, value in values.items():
        *path, leaf = name.split(".")
        target = obj
        for part in path:
            target = getattr(target, part)
        if not is_dataclass(target):
            raise ConfigError(f"'{name}' is not a parameter of {type(obj).__name__}")
        setattr(target, leaf, value)


def declare_config(node: Node, cls: type, live: Iterable[str] = (), lock: threading.Lock | None = None,
                   on_change: Callable[[set[str]], None] | None = None) -> Any:
    """Declare every field of ``cls`` (dotted names, defaults, docs, ranges) and return the values as ``cls``.

    Invalid values raise ConfigError (or rclpy's range error), so a node with a bad parameter
    file fails at start with the parameter's name rather than misbehaving later. The names in
    ``live`` can be set while the node runs: a set is validated like the start-up values, then
    applied to the returned object in place under ``lock``, then ``on_change(names)`` runs; all
    other fields are read-only.
    """
    live = frozenset(live)
    defaults, descriptions, bounds = flatten(cls()), docs(cls), ranges(cls)
    unknown = sorted(live - set(defaults))
    if unknown:
        raise ValueError(f"live parameters {unknown} are not fields of {cls.__name__}")
    for name, default in defaults.items():
        node.declare_parameter(name, default, descriptor(name, default, descriptions[name], bounds.get(name),
                                                         name in live))
    cfg = from_flat(cls, {name: node.get_parameter(name).value for name in defaults})
    if not live:
        return cfg
    guard = lock or threading.Lock()

    def on_set(params: list[Parameter]) -> SetParametersResult:
        updates = {p.name: p.value for p in params if p.name in defaults}
        if not updates:
            return SetParametersResult(successful=True)
        not_live = sorted(set(updates) - live)
        if not_live:  # rclpy rejects read-only ones first; this guards descriptors changed later
            return SetParametersResult(successful=False, reason=f"{not_live} can only be set at start")
        with guard:
            try:
                checked = flatten(from_flat(cls, {**flatten(cfg), **updates}))
            except ConfigError as e:
                return SetParametersResult(successful=False, reason=str(e))
            apply_flat(cfg, {name: checked[name] for name in updates})
        if on_change is not None:
            on_change(set(updates))
        node.get_logger().info("parameters changed: " + ", ".join(f"{k}={checked[k]!r}" for k in sorted(updates)))
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)
    return cfg
