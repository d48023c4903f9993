"""Bad input to the real nodes (in this process, over the SHM-only middleware): a clear log line or
service answer, the node stays up, and an enrolled target stays enrolled."""
from __future__ import annotations

import array
import math

import numpy as np
import pytest

from rosutil import call_trigger, new_domain, ros_context, wait_for

from reid_follow.ros.graph import StackArguments, describe
from reid_follow.ros.image_conv import fill_image
from reid_follow.video import FrameSource

pytestmark = pytest.mark.ros


class LogCapture:
    """Log lines of one node as every ROS tool sees them: from /rosout."""

    def __init__(self, client, node_name: str) -> None:
        from rcl_interfaces.msg import Log
        from rclpy.qos import DurabilityPolicy, QoSProfile

        self.lines: list[str] = []
        qos = QoSProfile(depth=1000, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        client.create_subscription(Log, "/rosout", lambda m: m.name == node_name and self.lines.append(m.msg), qos)

    def wait(self, needle: str, timeout: float = 20.0) -> str:
        wait_for(lambda: any(needle in line for line in self.lines), timeout, f"log line with {needle!r}")
        return next(line for line in self.lines if needle in line)


@pytest.fixture
def stack(mot16_05):
    """Follower + detector nodes in this process, and a client node publishing to them."""
    from sensor_msgs.msg import Image
    from std_msgs.msg import String
    from vision_msgs.msg import Detection2DArray

    from reid_follow.ros.runner import create_node

    domain = new_domain()
    with ros_context(domain) as (ctx, executor):
        import rclpy

        descriptions = describe(StackArguments(sets=["follower.embedder=none"]))
        for d in descriptions:  # the detector's own (empty) detections must not race the test's
            if d.name == "detector":
                d.remappings = [(a, "/detector_out" if a == "detections" else b) for a, b in d.remappings]
        nodes = {d.name: create_node(d, ctx) for d in descriptions}
        for n in nodes.values():
            executor.add_node(n)
        client = rclpy.create_node("bad_input_client", context=ctx)
        executor.add_node(client)
        states: list[str] = []
        client.create_subscription(String, "/status", lambda m: states.append(m.data), 100)
        img_pub = client.create_publisher(Image, "/image_raw", 10)
        det_pub = client.create_publisher(Detection2DArray, "/detections", 10)
        wait_for(lambda: img_pub.get_subscription_count() >= 2 and det_pub.get_subscription_count() >= 1, 10,
                 "nodes to subscribe")
        frame = next(iter(FrameSource(mot16_05)))
        yield dict(client=client, nodes=nodes, img_pub=img_pub, det_pub=det_pub, states=states, frame=frame,
                   logs={k: LogCapture(client, k) for k in nodes})
        for n in nodes.values():
            n.destroy_node()


def image_msg(frame: np.ndarray, sec: int, encoding: str = "bgr8"):
    from sensor_msgs.msg import Image

    msg = fill_image(Image(), frame, encoding)
    msg.header.stamp.sec, msg.header.frame_id = sec, "camera_optical_frame"
    return msg


def dets_msg(sec: int, boxes: list[tuple[float, float, float, float]]):
    from vision_msgs.msg import Detection2D, Detection2DArray

    msg = Detection2DArray()
    msg.header.stamp.sec = sec
    for cx, cy, w, h in boxes:
        d = Detection2D()
        # floats: rclpy converts float64 fields with PyFloat_AS_DOUBLE, which garbles Python ints
        d.bbox.center.position.x, d.bbox.center.position.y = float(cx), float(cy)
        d.bbox.size_x, d.bbox.size_y = float(w), float(h)
        msg.detections.append(d)
    return msg


def test_bad_images_and_detections_keep_nodes_up(stack):
    s = stack
    good_box = (300.0, 250.0, 60.0, 160.0)
    # 1) nobody in view / nothing enrolled
    reply = call_trigger(s["client"], "/enroll_target")
    assert not reply.success and "nobody" in reply.message
    assert call_trigger(s["client"], "/clear_target").success
    # 2) a good frame, then enroll
    s["img_pub"].publish(image_msg(s["frame"], 1))
    s["det_pub"].publish(dets_msg(1, [good_box]))
    wait_for(lambda: s["nodes"]["follower"].counts["processed"] >= 1, 5, "first frame processed")
    reply = call_trigger(s["client"], "/enroll_target")
    assert reply.success, reply.message
    # 3) unknown encoding -> clear error, skipped
    bad = image_msg(s["frame"], 2)
    bad.encoding = "yuv422_weird"
    s["img_pub"].publish(bad)
    s["det_pub"].publish(dets_msg(2, [good_box]))
    assert "yuv422_weird" in s["logs"]["follower"].wait("unsupported image encoding")
    s["logs"]["detector"].wait("unsupported image encoding")
    # 4) truncated data and zero size
    trunc = image_msg(s["frame"], 3)
    trunc.data = array.array("B", bytes(trunc.data)[:1000])
    s["img_pub"].publish(trunc)
    s["det_pub"].publish(dets_msg(3, [good_box]))
    s["logs"]["follower"].wait("image data has 1000 bytes")
    zero = image_msg(s["frame"], 4)
    zero.height = zero.width = zero.step = 0
    zero.data = array.array("B")
    s["img_pub"].publish(zero)
    s["det_pub"].publish(dets_msg(4, [good_box]))
    s["logs"]["follower"].wait("zero size")
    # 5) NaN / negative / out-of-image boxes are dropped with a reason; the good one is followed
    s["img_pub"].publish(image_msg(s["frame"], 5))
    s["det_pub"].publish(dets_msg(5, [good_box, (math.nan, 10, 10, 10), (50, 50, -5, 20), (5000, 5000, 40, 80)]))
    line = s["logs"]["follower"].wait("ignored 3 detection(s)")
    assert "non-finite" in line and "non-positive" in line and "outside" in line
    # 6) detections without a matching image never pair; what waits is bounded by the 1 s window
    follower = s["nodes"]["follower"]
    for sec in range(100, 100 + 30):
        s["det_pub"].publish(dets_msg(sec, [good_box]))
    wait_for(lambda: follower.pairer.counts["detections_unpaired"] > 0, 5, "unmatched detections expired")
    assert follower.pairer.pending()["detections"] <= 2
    # The target is still enrolled and followed on the next good frame.
    n_before = len(s["states"])
    s["img_pub"].publish(image_msg(s["frame"], 200))
    s["det_pub"].publish(dets_msg(200, [good_box]))
    wait_for(lambda: len(s["states"]) > n_before, 5, "a frame after the bad input")
    assert s["states"][-1] == "tracking"
    assert s["nodes"]["follower"].core.state == "tracking"
    # The counters reach /diagnostics.
    from diagnostic_msgs.msg import DiagnosticArray

    diags: list = []
    s["client"].create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    follower_status = lambda: [st for d in diags for st in d.status if st.name == "reid_follow: follower"]  # noqa: E731
    wait_for(follower_status, 5, "follower diagnostics")  # the detector publishes its own too
    values = {kv.key: kv.value for kv in follower_status()[-1].values}
    assert int(values["bad_frames"]) == 3 and values["state"] == "tracking"
    assert int(values["processed"]) >= 3
    # Camera info with zeros falls back to parameters with a warning.
    from sensor_msgs.msg import CameraInfo

    pub = s["client"].create_publisher(CameraInfo, "/camera_info", 10)
    wait_for(lambda: pub.get_subscription_count() >= 1, 5, "camera_info subscriber")
    pub.publish(CameraInfo())
    s["logs"]["follower"].wait("no valid intrinsics")
