"""Faults in the input streams of the real follower node (in-process, SHM-only middleware)."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rosutil import call_trigger, new_domain, ros_context, wait_for
from test_ros_bad_input import dets_msg, image_msg

from reid_follow.ros.graph import StackArguments, describe
from reid_follow.video import FrameSource

pytestmark = pytest.mark.ros
BOX = (300.0, 250.0, 60.0, 160.0)


@pytest.fixture
def follower(mot16_05):
    from std_msgs.msg import String
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import CameraInfo, Image
    from vision_msgs.msg import Detection2DArray

    from reid_follow.ros.runner import create_node

    with ros_context(new_domain()) as (ctx, executor):
        import rclpy

        desc = describe(StackArguments(use_detector=False, sets=["follower.embedder=none",
                                                                 "follower.pose.smoothing=1.0"]))[0]
        node = create_node(desc, ctx)
        client = rclpy.create_node("fault_client", context=ctx)
        for n in (node, client):
            executor.add_node(n)
        got = {"states": [], "poses": []}
        client.create_subscription(String, "/status", lambda m: got["states"].append(m.data), 1000)
        client.create_subscription(PoseStamped, "/target_pose", lambda m: got["poses"].append(m), 1000)
        pubs = dict(img=client.create_publisher(Image, "/image_raw", 10),
                    det=client.create_publisher(Detection2DArray, "/detections", 10),
                    info=client.create_publisher(CameraInfo, "/camera_info", 10))
        wait_for(lambda: all(p.get_subscription_count() for p in pubs.values()), 10, "subscriptions")
        frame = next(iter(FrameSource(mot16_05)))

        def send(sec: int, img=True, det=True, frame_=frame, box=BOX, nanosec=0):
            n0 = node.counts["processed"] + node.counts["bad_frames"]
            if img:
                m = image_msg(frame_, sec)
                m.header.stamp.nanosec = nanosec
                pubs["img"].publish(m)
            if det:
                d = dets_msg(sec, [box])
                d.header.stamp.nanosec = nanosec
                pubs["det"].publish(d)
            return n0

        yield dict(node=node, client=client, got=got, pubs=pubs, send=send, frame=frame)
        node.destroy_node()


def processed_after(f, n0: int, what: str) -> None:
    wait_for(lambda: f["node"].counts["processed"] + f["node"].counts["bad_frames"] > n0, 10, what)


def test_stream_faults_keep_the_right_state(follower):
    f = follower
    node, send = f["node"], f["send"]
    processed_after(f, send(1), "first frame")
    assert call_trigger(f["client"], "/enroll_target").success
    processed_after(f, send(2), "tracking")
    assert node.core.state == "tracking"
    # detections stop: images alone are never processed (no pair) and queue up to the bound
    for sec in range(3, 30):
        send(sec, det=False)
        time.sleep(0.03)  # camera pace: the image queue keeps only the newest frame
    wait_for(lambda: node.counts["images"] >= 20, 10, "images")
    assert node.counts["processed"] <= 3 and node.pairer.pending()["images"] <= 2  # 1 s window, 1 s apart
    # ... and resume
    processed_after(f, send(30), "detections resumed")
    assert node.core.state == "tracking"
    # images stop, then resume
    for sec in range(31, 40):
        send(sec, img=False)
    processed_after(f, send(40), "images resumed")
    # duplicate and slightly older stamps are dropped with a count
    stale = node.pairer.counts["stale_dropped"]
    send(40)
    send(39)
    wait_for(lambda: node.pairer.counts["stale_dropped"] >= stale + 2, 10, "stale drops")
    # a bag loop: stamps jump back by more than a second -> pairing restarts, following continues
    processed_after(f, send(5), "after jump back")
    assert node.core.state == "tracking" and f["got"]["states"][-1] == "tracking"
    # the image size changes mid-stream: the box is followed in the new geometry
    small = np.ascontiguousarray(f["frame"][::2, ::2])
    n0 = send(6, frame_=small, box=(150.0, 125.0, 30.0, 80.0))
    processed_after(f, n0, "half-size frame")
    pose_small = f["got"]["poses"][-1].pose.position
    assert pose_small.z > 0
    # camera_info zeroed -> parameters; a valid one is used from then on
    from sensor_msgs.msg import CameraInfo

    f["pubs"]["info"].publish(CameraInfo())
    info = CameraInfo()
    info.k = [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0]
    f["pubs"]["info"].publish(info)
    wait_for(lambda: node.camera_matrix is not None, 10, "camera_info applied")
    n_poses = len(f["got"]["poses"])
    processed_after(f, send(7), "frame with intrinsics")
    wait_for(lambda: len(f["got"]["poses"]) > n_poses, 5, "pose")
    z = f["got"]["poses"][-1].pose.position.z
    assert z == pytest.approx(500.0 * node.cfg.pose.person_height_m / 160.0)


def test_enroll_and_clear_concurrently(follower):
    f = follower
    processed_after(f, f["send"](1), "first frame")
    results: list[bool] = []
    errors: list[BaseException] = []

    def hammer(name: str) -> None:
        try:
            for _ in range(10):
                results.append(call_trigger(f["client"], name).success)
        except BaseException as e:  # noqa: BLE001 - surfaced below
            errors.append(e)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in ("/enroll_target", "/clear_target") * 2]
    for t in threads:
        t.start()
    for sec in range(2, 12):
        processed_after(f, f["send"](sec), "frames during service calls")
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(results) == 40 and all(results)
    assert call_trigger(f["client"], "/enroll_target").success
    processed_after(f, f["send"](20), "after the storm")
    assert f["node"].core.state == "tracking"
    assert call_trigger(f["client"], "/clear_target").success
    processed_after(f, f["send"](21), "after clear")
    assert f["node"].core.state == "idle" and f["got"]["states"][-1] == "idle"
