"""Replay a rosbag2 file through the middleware with its recorded timing (``ros2 bag play`` stand-in)."""
from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from reid_follow.bagfile import SENSOR_DATA_TOPICS, bag_topics, read_bag

CLOCK_TOPIC = "/clock"


def message_class(msgtype: str):
    pkg, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)


def publisher_qos(topic: str, offered: list) -> QoSProfile:
    """The QoS the bag says the topic was offered with (its first profile); for bags that recorded
    none, sensor data for the camera topics and reliable depth 10 for the rest."""
    if not offered:
        return qos_profile_sensor_data if topic in SENSOR_DATA_TOPICS else QoSProfile(depth=10)
    q = offered[0]
    best_effort = q.reliability.name == "BEST_EFFORT"
    return QoSProfile(depth=max(int(q.depth), 1), history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
                      durability=(DurabilityPolicy.TRANSIENT_LOCAL if q.durability.name == "TRANSIENT_LOCAL"
                                  else DurabilityPolicy.VOLATILE))


class BagPlayer:
    """Publishes a bag's messages as serialized CDR from ``node``, paced by their timestamps.

    One publisher per topic for the player's life (``play`` may run any number of times, as
    ``--loop`` does); ``remap`` renames topics (old -> new); ``clock_hz`` > 0 also publishes the
    bag's time on /clock at that rate, for nodes with ``use_sim_time``.
    """

    def __init__(self, node: Node, path: str | Path, rate: float = 1.0, remap: dict[str, str] | None = None,
                 clock_hz: float = 0.0) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        if clock_hz < 0:
            raise ValueError(f"clock rate must be >= 0, got {clock_hz}")
        self.node, self.path, self.rate, self.remap = node, Path(path), rate, remap or {}
        self.publishers = {topic: node.create_publisher(message_class(msgtype), self.remap.get(topic, topic),
                                                        publisher_qos(topic, offered))
                           for topic, (msgtype, offered) in bag_topics(self.path).items()}
        self.clock_period = 1.0 / clock_hz if clock_hz else 0.0
        self.clock_pub = None
        if clock_hz:
            from rosgraph_msgs.msg import Clock

            self.clock_pub = node.create_publisher(Clock, CLOCK_TOPIC, 10)
        self.published = 0

    def _publish_clock(self, t_ns: int) -> None:
        from builtin_interfaces.msg import Time
        from rosgraph_msgs.msg import Clock

        self.clock_pub.publish(Clock(clock=Time(sec=t_ns // 10**9, nanosec=t_ns % 10**9)))

    def _wait_until(self, wall: float, bag_at: Callable[[float], int]) -> None:
        """Sleep until monotonic time ``wall``, ticking /clock with the bag time meanwhile."""
        while (delay := wall - time.monotonic()) > 0:
            if self.clock_pub is None:
                time.sleep(delay)
                return
            time.sleep(min(delay, self.clock_period))
            self._publish_clock(bag_at(time.monotonic()))

    def play(self, on_message: Callable[[str, int], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> int:
        """Publish the bag once; ``on_message(topic, t_ns)`` runs after each publish (``topic`` as
        recorded, before remapping). Returns how many messages this pass published."""
        start_wall, start_bag = None, None
        count = 0
        for topic, _msgtype, t, raw in read_bag(self.path):
            if should_stop is not None and should_stop():
                break
            if start_wall is None:
                start_wall, start_bag = time.monotonic(), t
            self._wait_until(start_wall + (t - start_bag) / 1e9 / self.rate,
                             lambda now, t=t: min(t, start_bag + round((now - start_wall) * self.rate * 1e9)))
            if self.clock_pub is not None:
                self._publish_clock(t)
            self.publishers[topic].publish(raw)
            count += 1
            if on_message is not None:
                on_message(topic, t)
        self.published += count
        return count

    def wait_for_subscribers(self, topics: tuple[str, ...], timeout: float = 10.0) -> bool:
        """Wait until each of the bag's ``topics`` (as recorded) has a subscriber."""
        from reid_follow.ros.harness import WaitTimeout, wait_for

        pubs = [self.publishers[t] for t in topics if t in self.publishers]
        try:
            wait_for(lambda: all(p.get_subscription_count() > 0 for p in pubs), timeout, f"subscribers on {topics}")
        except WaitTimeout:
            return False
        # The publisher sees the subscription before the subscriber has matched the publisher;
        # best-effort samples sent in between are lost, so give it a moment.
        time.sleep(0.5)
        return True
