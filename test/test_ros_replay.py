"""Replay real footage (a rosbag2 made from MOT16-05 with its DPM det.txt) through the real nodes.

The follower runs in its own process (`reid-follow run`) on the SHM-only middleware; this test
process plays the bag, calls /enroll_target and /clear_target exactly as `ros2 service call`
would, and checks /target_pose and the status topic.
"""
from __future__ import annotations

import threading

import numpy as np
import psutil
import pytest

from rosutil import (Diagnostics, call_trigger, new_domain, ros_context, start_runner, stop_process, wait_for,
                     wait_until_quiet)

from reid_follow.bagfile import START_NS, make_bag, unit_scores
from reid_follow.config import FollowerConfig
from reid_follow.follow.follower import TargetFollower
from reid_follow.follow.types import Observation
from reid_follow.mot import read_mot, xywh_to_xyxy
from reid_follow.pose import PoseConfig, PoseEstimator, intrinsics
from reid_follow.video import FrameSource

pytestmark = pytest.mark.ros
ENROLL_AFTER = 6  # frames played before /enroll_target is called


@pytest.fixture(scope="module")
def mot_bag(tmp_path_factory, mot16_05):
    out = tmp_path_factory.mktemp("bags") / "mot16_05"
    make_bag(mot16_05, out, mot16_05 / "det" / "det.txt")
    return out


def offline_poses(seq) -> list[tuple[int, np.ndarray]]:
    """The same core, without ROS: (stamp nanoseconds, position) of every pose it would publish."""
    follower = TargetFollower(FollowerConfig().follow, None)
    est = PoseEstimator(PoseConfig(smoothing=1.0))
    dets = read_mot(seq / "det" / "det.txt")
    scores = unit_scores(dets.score)  # what the bag carries
    k = intrinsics(640, height=480, horizontal_fov_deg=60.0)
    out = []
    for i, frame in enumerate(FrameSource(seq), 1):
        rows = dets.at(i)
        boxes = np.clip(xywh_to_xyxy(rows.xywh), 0, [640, 480, 640, 480])
        result = follower.update(Observation(frame, boxes, scores[dets.frame == i], i))
        if result.box is not None:
            out.append(((START_NS + round((i - 1) * 1e9 / 14)) % 10**9, est.estimate(result.box, k)))
        if i == ENROLL_AFTER:
            assert follower.enroll()[0]
    return out


def test_replay_enroll_follow_clear(mot_bag, mot16_05):
    from geometry_msgs.msg import PoseStamped
    from std_msgs.msg import String

    from reid_follow.ros.bag_player import BagPlayer

    domain = new_domain()
    proc = start_runner(domain, "--no-detector", "--set", "follower.embedder=none",
                        "--set", "follower.pose.smoothing=1.0")
    try:
        with ros_context(domain) as (ctx, executor):
            import rclpy

            node = rclpy.create_node("replay_test", context=ctx)
            executor.add_node(node)
            poses: list[PoseStamped] = []
            states: list[str] = []
            node.create_subscription(PoseStamped, "/target_pose", poses.append, 100)
            status = node.create_subscription(String, "/status", lambda m: states.append(m.data), 100)
            diagnostics = Diagnostics(node)
            wait_for(lambda: status.get_publisher_count() > 0, 60, "the follower's status publisher", alive=proc)

            # Nobody in view yet: a clear failure, not a crash.
            reply = call_trigger(node, "/enroll_target", timeout=60)
            assert not reply.success and "nobody" in reply.message

            player = BagPlayer(node, mot_bag, rate=0.25)  # slack: the follower keeps only the newest image
            assert player.wait_for_subscribers(("/image_raw", "/detections"), timeout=30)
            frames_seen = []
            enrolled = threading.Event()

            def on_message(topic: str, _t: int) -> None:
                if topic == "/detections":
                    frames_seen.append(1)
                    if len(frames_seen) == ENROLL_AFTER:
                        wait_for(lambda: diagnostics.count("follower", "processed") >= ENROLL_AFTER, 10,
                                 "follower to process frames")
                        result = call_trigger(node, "/enroll_target")
                        assert result.success, result.message
                        enrolled.set()

            player.play(on_message)
            assert enrolled.is_set()
            # Images are best effort (sensor-data QoS), so on a busy 2-core machine one of the 48
            # frames is occasionally lost in transport (measured: about 1 run in 4); allow that one.
            wait_until_quiet(lambda: diagnostics.count("follower", "processed"), 2.5, 30, "the last frames")
            processed = diagnostics.count("follower", "processed")
            assert processed >= 47, f"{processed} frames processed: more than one frame lost"
            expected = offline_poses(mot16_05)
            # motion-only following on real detections keeps the target most of the time
            assert len(expected) >= 0.6 * (48 - ENROLL_AFTER)
            stamps = [p.header.stamp.nanosec for p in poses]
            got = np.array([[p.pose.position.x, p.pose.position.y, p.pose.position.z] for p in poses])
            if processed == 48:  # every frame arrived: exactly what the core publishes without ROS
                assert stamps == [t for t, _ in expected]
                np.testing.assert_allclose(got, np.array([xyz for _, xyz in expected]), rtol=1e-9, atol=1e-9)
            else:
                assert len(set(stamps) & {t for t, _ in expected}) >= 0.9 * len(expected)
            assert {p.header.frame_id for p in poses} == {"camera_optical_frame"}
            assert 0.5 < got[:, 2].min() and got[:, 2].max() < 40  # metres ahead of the camera
            changes = [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]
            assert changes[:2] == ["idle", "tracking"], changes  # idle until enrolled, then tracking

            reply = call_trigger(node, "/clear_target")
            assert reply.success
            wait_for(lambda: states[-1] == "idle", 5, "idle after clear")
            # A second clear with nothing enrolled still answers.
            assert call_trigger(node, "/clear_target").success

            # The running follower opened no UDP (or TCP) socket at all: SHM only.
            assert psutil.Process(proc.pid).net_connections(kind="inet") == []
            assert proc.poll() is None, "follower process died"
    finally:
        log = stop_process(proc)
    assert "Traceback" not in log, log


@pytest.mark.slow
def test_replay_through_detector_and_follower(tmp_path, mot16_05):
    """Images only (no recorded detections): the detector node finds people, the follower follows."""
    from geometry_msgs.msg import PoseStamped
    from std_msgs.msg import String
    from vision_msgs.msg import Detection2DArray

    from reid_follow.ros.bag_player import BagPlayer

    bag = tmp_path / "images_only"
    make_bag(mot16_05, bag)
    domain = new_domain()
    proc = start_runner(domain, "--set", "follower.embedder=none", "--set", "detector.resize_width=960")
    try:
        with ros_context(domain) as (ctx, executor):
            import rclpy

            node = rclpy.create_node("pipeline_test", context=ctx)
            executor.add_node(node)
            dets: list[Detection2DArray] = []
            poses: list[PoseStamped] = []
            states: list[str] = []
            node.create_subscription(Detection2DArray, "/detections", dets.append, 100)
            node.create_subscription(PoseStamped, "/target_pose", poses.append, 100)
            node.create_subscription(String, "/status", lambda m: states.append(m.data), 100)
            call_trigger(node, "/enroll_target", timeout=60)  # wait until the nodes are up
            player = BagPlayer(node, bag, rate=0.25)  # HOG is slow on 2 cores; the detector keeps the newest frame
            assert player.wait_for_subscribers(("/image_raw",), timeout=30)
            enrolled = []

            def on_message(topic: str, _t: int) -> None:
                if topic == "/image_raw" and not enrolled and any(d.detections for d in dets):
                    reply = call_trigger(node, "/enroll_target")
                    if reply.success:
                        enrolled.append(reply.message)

            player.play(on_message)
            wait_for(lambda: len(dets) >= 10, 20, "detections")
            image_stamps = {START_NS + round(i * 1e9 / 14) for i in range(48)}
            for d in dets:  # the detector copies the image header
                assert d.header.frame_id == "camera_optical_frame"
                assert d.header.stamp.sec * 10**9 + d.header.stamp.nanosec in image_stamps
            assert sum(len(d.detections) for d in dets) >= len(dets)  # people are found in most frames
            assert enrolled, "no person was ever enrollable"
            assert poses, "no target pose published"
            assert "tracking" in states
            assert psutil.Process(proc.pid).net_connections(kind="inet") == []
    finally:
        log = stop_process(proc)
    assert "Traceback" not in log, log
