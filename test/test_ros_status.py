"""The follower's status topic (transient local, on change and at a low rate) and /clear_target
racing with frames: after a clear, no pose or state of the cleared target may go out."""
from __future__ import annotations

import sys
import threading

import pytest

from rosutil import call_trigger, new_domain, ros_context, wait_for
from test_ros_bad_input import dets_msg, image_msg

from reid_follow.ros.graph import StackArguments, describe
from reid_follow.video import FrameSource

pytestmark = pytest.mark.ros
BOX = (300.0, 250.0, 60.0, 160.0)


@pytest.fixture
def follower(request, mot16_05):
    from reid_follow.ros.runner import create_node

    sets = ["follower.embedder=none", *getattr(request, "param", [])]
    with ros_context(new_domain()) as (ctx, executor):
        import rclpy

        node = create_node(describe(StackArguments(use_detector=False, sets=sets))[0], ctx)
        client = rclpy.create_node("status_client", context=ctx)
        for n in (node, client):
            executor.add_node(n)
        frame = next(iter(FrameSource(mot16_05)))
        yield dict(node=node, client=client, frame=frame)
        for n in (node, client):
            n.destroy_node()


def feed(node, frame, sec: int) -> None:
    """One frame through the node's own input callbacks (no transport: as fast as the core runs)."""
    node.on_image(image_msg(frame, sec), {})
    node.on_detections(dets_msg(sec, [BOX]))


class Recorded:
    """A publisher that also appends what it publishes to a shared log, in publish order: the
    order the node's threads published in, which no subscriber of two topics can observe."""

    def __init__(self, pub, kind: str, log: list) -> None:
        self.pub, self.kind, self.log = pub, kind, log

    def publish(self, msg) -> None:
        self.log.append((self.kind, getattr(msg, "data", None)))
        self.pub.publish(msg)


def test_no_pose_or_tracking_after_concurrent_clears(follower):
    from std_srvs.srv import Trigger

    node, frame = follower["node"], follower["frame"]
    log: list = []
    node.pose_pub = Recorded(node.pose_pub, "pose", log)
    node.status_pub = Recorded(node.status_pub, "status", log)
    stop = threading.Event()
    sec = [1]

    def frames() -> None:
        while not stop.is_set():
            feed(node, frame, sec[0])
            sec[0] += 1

    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often: races show up in a short test
    feeder = threading.Thread(target=frames, daemon=True)
    feeder.start()
    try:
        for _cycle in range(25):
            wait_for(lambda: node.core.state == "idle" and node.counts["processed"] > 0, 10, "a frame")
            log.append(("enroll", None))
            assert node.on_enroll(Trigger.Request(), Trigger.Response()).success
            n0 = sum(kind == "pose" for kind, _ in log)
            wait_for(lambda: sum(kind == "pose" for kind, _ in log) >= n0 + 2, 10, "poses of the target")
            barrier = threading.Barrier(3)

            def clear() -> None:
                barrier.wait()
                node.on_clear(Trigger.Request(), Trigger.Response())
                log.append(("cleared", None))

            clearers = [threading.Thread(target=clear) for _ in range(3)]
            for t in clearers[:2]:
                t.start()
            clearers[2].run()  # the third on this thread: three clears at once, frames flowing
            for t in clearers[:2]:
                t.join()
            n = node.counts["processed"]
            wait_for(lambda: node.counts["processed"] >= n + 3, 10, "frames after the clears")
    finally:
        stop.set()
        feeder.join(timeout=10)
        sys.setswitchinterval(saved)
    cleared_at = [i for i, (kind, _) in enumerate(log) if kind == "cleared"]
    enrolls_at = [i for i, (kind, _) in enumerate(log) if kind == "enroll"] + [len(log)]
    assert len(enrolls_at) == 26
    for i in cleared_at:
        until = next(j for j in enrolls_at if j > i)
        after = log[i + 1:until]
        assert not [e for e in after if e[0] == "pose"], f"pose after a clear: {after[:8]}"
        assert {data for kind, data in after if kind == "status"} <= {"idle"}, after[:8]


@pytest.mark.parametrize("follower", [["follower.status_period_s=60.0"]], indirect=True)
def test_status_is_latched_and_published_on_change(follower):
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String

    node, client, frame = follower["node"], follower["client"], follower["frame"]
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    late: list[str] = []
    # a subscriber that comes long after the only publish (no timer tick for 60 s) still gets it
    call_trigger(client, "/clear_target")  # nothing changes: idle stays idle, nothing is published
    client.create_subscription(String, "/status", lambda m: late.append(m.data), latched)
    wait_for(lambda: late == ["idle"], 10, "the latched status")

    every: list[str] = []
    client.create_subscription(String, "/status", lambda m: every.append(m.data), 100)
    feed(node, frame, 1)
    assert call_trigger(client, "/enroll_target").success
    for sec in range(2, 12):
        feed(node, frame, sec)
    wait_for(lambda: node.core.state == "tracking" and late[-1] == "tracking", 10, "tracking")
    # ten frames, one message per change of state, not one per frame
    changes = [s for i, s in enumerate(late) if i == 0 or late[i - 1] != s]
    assert late == changes, late
    assert every.count("tracking") == 1, every


@pytest.mark.parametrize("follower", [["follower.status_period_s=0.2"]], indirect=True)
def test_status_is_repeated_at_the_configured_period(follower):
    from std_msgs.msg import String

    got: list[str] = []
    follower["client"].create_subscription(String, "/status", lambda m: got.append(m.data), 100)  # volatile
    wait_for(lambda: len(got) >= 4, 10, "periodic status while idle")
    assert set(got) == {"idle"}
