"""`reid-follow bag play` as a user runs it: --loop keeps one publisher per topic, --remap renames
topics, --clock publishes the bag's time on /clock (for nodes with use_sim_time)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from rosutil import isolated_env, new_domain, ros_context, stop, wait_for

from reid_follow.bagfile import START_NS, make_bag

pytestmark = pytest.mark.ros
FRAMES = 5
FPS = 14.0  # MOT16-05


def test_bag_play_loop_remap_clock(tmp_path, mot16_05):
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import Image

    bag = tmp_path / "bag"
    make_bag(mot16_05, bag, mot16_05 / "det" / "det.txt", max_frames=FRAMES)
    last_ns = START_NS + round((FRAMES - 1) * 1e9 / FPS)
    domain = new_domain()
    with ros_context(domain) as (ctx, executor):
        node = rclpy.create_node("bag_play_test", context=ctx)
        executor.add_node(node)
        stamps: list[int] = []
        clock: list[int] = []
        node.create_subscription(Image, "/cam/image_raw",
                                 lambda m: stamps.append(m.header.stamp.sec * 10**9 + m.header.stamp.nanosec),
                                 qos_profile_sensor_data)
        node.create_subscription(Clock, "/clock", lambda m: clock.append(m.clock.sec * 10**9 + m.clock.nanosec), 100)
        player = subprocess.Popen([sys.executable, "-m", "reid_follow.cli", "bag", "play", str(bag), "--loop",
                                   "--remap", "/image_raw:=/cam/image_raw", "--clock", "50"],
                                  env=isolated_env(domain), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
        try:
            loops = lambda: 1 + sum(b < a for a, b in zip(stamps, stamps[1:]))  # noqa: E731 - a stamp going back
            wait_for(lambda: loops() >= 4, 60, "four passes over the bag", alive=player)
            # one publisher per topic however many passes ran (each pass used to add one)
            assert node.count_publishers("/cam/image_raw") == 1
            assert node.count_publishers("/image_raw") == 0            # remapped, not published twice
            assert node.count_publishers("/detections") == 1
            assert node.count_publishers("/clock") == 1
        finally:
            log = stop(player)
    assert "Traceback" not in log, log
    assert set(stamps) <= {START_NS + round(i * 1e9 / FPS) for i in range(FRAMES)}
    # /clock: bag time, ticking between messages too (50 Hz > 14 fps), never outside the bag
    assert len(clock) > 2 * len(stamps)
    assert all(START_NS <= t <= last_ns for t in clock)
    passes = [[]]
    for a, b in zip(clock, clock[1:]):
        passes[-1].append(b - a)
        if b < a:
            passes.append([])
    assert all(d >= 0 for p in passes[1:-1] for d in p[:-1])        # monotonic within each full pass
