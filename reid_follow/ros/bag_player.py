"""Replay a rosbag2 file through the middleware with its recorded timing (``ros2 bag play`` stand-in)."""
from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data

from reid_follow.bagfile import read_bag

SENSOR_TOPICS = ("/image_raw", "/camera_info")


def message_class(msgtype: str):
    pkg, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)


class BagPlayer:
    """Publishes a bag's messages as serialized CDR from ``node``, paced by their timestamps."""

    def __init__(self, node: Node, path: str | Path, rate: float = 1.0, remap: dict[str, str] | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.node, self.path, self.rate, self.remap = node, Path(path), rate, remap or {}
        self.publishers: dict[str, object] = {}
        self.published = 0

    def _publisher(self, topic: str, msgtype: str):
        if topic not in self.publishers:
            qos = qos_profile_sensor_data if topic in SENSOR_TOPICS else 10
            self.publishers[topic] = self.node.create_publisher(message_class(msgtype), self.remap.get(topic, topic), qos)
        return self.publishers[topic]

    def play(self, on_message: Callable[[str, int], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> int:
        """Publish everything; ``on_message(topic, t_ns)`` runs after each publish. Returns the count."""
        start_wall, start_bag = None, None
        for topic, msgtype, t, raw in read_bag(self.path):
            if should_stop is not None and should_stop():
                break
            pub = self._publisher(topic, msgtype)
            if start_wall is None:
                start_wall, start_bag = time.monotonic(), t
            delay = (t - start_bag) / 1e9 / self.rate - (time.monotonic() - start_wall)
            if delay > 0:
                time.sleep(delay)
            pub.publish(raw)
            self.published += 1
            if on_message is not None:
                on_message(topic, t)
        return self.published

    def wait_for_subscribers(self, topics: tuple[str, ...], timeout: float = 10.0) -> bool:
        """Create publishers for ``topics`` of the bag and wait until each has a subscriber."""
        types = {}
        for topic, msgtype, _t, _raw in read_bag(self.path):
            types.setdefault(topic, msgtype)
            if set(topics) <= set(types):
                break
        pubs = [self._publisher(t, types[t]) for t in topics if t in types]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(p.get_subscription_count() > 0 for p in pubs):
                # The publisher sees the subscription before the subscriber has matched the
                # publisher; best-effort samples sent in between are lost, so give it a moment.
                time.sleep(0.5)
                return True
            time.sleep(0.05)
        return False
