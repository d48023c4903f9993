"""Declare a config dataclass as ROS parameters (documented) and read it back."""
from __future__ import annotations

from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from reid_follow.config_base import docs, flatten, from_flat


def declare_config(node: Node, cls: type) -> Any:
    """Declare every field of ``cls`` (dotted names, defaults, docs) and return the values as ``cls``.

    Invalid values raise ConfigError, so a node with a bad parameter file fails at start with
    the parameter's name rather than misbehaving later.
    """
    defaults, descriptions = flatten(cls()), docs(cls)
    for name, default in defaults.items():
        node.declare_parameter(name, default, ParameterDescriptor(description=descriptions[name]))
    values = {name: node.get_parameter(name).value for name in defaults}
    return from_flat(cls, values)
