"""Run inside a network namespace by test_ros_multihost.py: play a bag, enroll, report what came back.

The middleware profile comes from the environment the test gives this process (UDP peers), so
this uses rclpy's default context rather than harness.client_context (which is SHM-only).
"""
from __future__ import annotations

import json
import sys
import threading

import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.executors import MultiThreadedExecutor
from std_msgs.msg import String

from reid_follow.ros.bag_player import BagPlayer
from reid_follow.ros.harness import Diagnostics, TriggerClient, WaitTimeout, wait_for, wait_until_quiet


def main(bag: str, enroll_after: int) -> None:
    rclpy.init()
    node = rclpy.create_node("netns_peer")
    ex = MultiThreadedExecutor(num_threads=2)
    ex.add_node(node)
    threading.Thread(target=ex.spin, daemon=True).start()
    poses, states = [], []
    node.create_subscription(PoseStamped, "/target_pose", poses.append, 100)
    node.create_subscription(String, "/status", lambda m: states.append(m.data), 100)
    diagnostics = Diagnostics(node)
    enroll = TriggerClient(node, "/enroll_target")
    result: dict = {}
    try:
        enroll.wait_for_service(60)
        result["service"] = True
    except WaitTimeout:
        result["service"] = False
    # half speed: on 2 busy cores a frame the follower has not taken yet is replaced by the next one
    # (newest only), and a motion-only follower that misses a run of frames loses the target
    player = BagPlayer(node, bag, rate=0.5)
    result["subscribed"] = player.wait_for_subscribers(("/image_raw", "/detections"), timeout=30)

    seen = []

    def on_message(topic: str, _t: int) -> None:
        seen.append(topic == "/detections")
        if sum(seen) == enroll_after and "enroll" not in result:  # hold the camera until those are processed
            try:
                wait_for(lambda: diagnostics.count("follower", "processed") >= enroll_after, 10, "frames processed")
                result["enroll"] = enroll.call(10).success
            except WaitTimeout:
                result["enroll"] = None

    player.play(on_message)
    wait_until_quiet(lambda: diagnostics.count("follower", "processed"), 2.5, 30, "the last frames")
    result.update(poses=len(poses), processed=diagnostics.count("follower", "processed"),
                  tracking="tracking" in states, frame_ids=sorted({p.header.frame_id for p in poses}))
    print("RESULT " + json.dumps(result), flush=True)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
