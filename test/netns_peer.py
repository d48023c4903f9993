"""Run inside a network namespace by test_ros_multihost.py: play a bag, enroll, report what came back."""
from __future__ import annotations

import json
import sys
import threading
import time

import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import String
from std_srvs.srv import Trigger

from reid_follow.ros.bag_player import BagPlayer


def main(bag: str, enroll_after: int) -> None:
    rclpy.init()
    node = rclpy.create_node("netns_peer")
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    threading.Thread(target=ex.spin, daemon=True).start()
    poses, states = [], []
    node.create_subscription(PoseStamped, "/target_pose", poses.append, 100)
    node.create_subscription(String, "/reid_follow/status", lambda m: states.append(m.data), 100)
    client = node.create_client(Trigger, "/enroll_target")
    ok = client.wait_for_service(timeout_sec=60)
    player = BagPlayer(node, bag)
    subscribed = player.wait_for_subscribers(("/image_raw", "/detections"), timeout=30)
    result: dict = {"service": ok, "subscribed": subscribed}

    def on_message(topic: str, _t: int) -> None:
        if topic == "/detections" and states.count("idle") >= enroll_after and "enroll" not in result:
            fut = client.call_async(Trigger.Request())
            deadline = time.monotonic() + 10
            while not fut.done() and time.monotonic() < deadline:
                time.sleep(0.01)
            result["enroll"] = fut.result().success if fut.done() else None

    player.play(on_message)
    time.sleep(1.0)
    result.update(poses=len(poses), states=len(states), tracking=states.count("tracking"),
                  frame_ids=sorted({p.header.frame_id for p in poses}))
    print("RESULT " + json.dumps(result), flush=True)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
