"""``reid-follow demo``: real footage through the real nodes, enrolled by the service, to an annotated video.

By default the PETS 2009 clip ``vtest.avi`` that Debian's opencv-doc package ships: it is made
into a rosbag2 file, replayed with its recorded timing to the detector and follower running in
their own process (`reid-follow run`, SHM-only middleware, a private ROS domain), the person the
follower's rule picks is enrolled through /enroll_target, and the follower's debug image stream is
written to a video.  Needs no camera, GPU or download.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--video", default=str(VTEST), help=f"video or image folder (default {VTEST})")
    p.add_argument("--out", default="out/demo", help="output folder (bag, follow.mp4, summary.json)")
    p.add_argument("--max-frames", type=int, default=300, help="frames of the input to replay (0 = all)")
    p.add_argument("--rate", type=float, default=1.0, help="replay speed (1 = recorded timing)")
    p.add_argument("--enroll-after", type=int, default=10, help="frames the follower sees before enrolling")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="parameter override for the nodes (repeatable)")


def main(args: argparse.Namespace) -> int:
    from reid_follow.bagfile import make_bag
    from reid_follow.ros.middleware import middleware_env

    video = Path(args.video)
    if not video.exists():
        print(f"demo footage not found: {video} (scripts/setup.sh installs Debian's opencv-doc)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bag = out / f"bag_{video.stem}_{args.max_frames}"
    if not bag.exists():
        make_bag(video, bag, max_frames=args.max_frames)
    domain = random.randint(100, 200)
    env = {**os.environ, **middleware_env(domain)}
    env.pop("ROS_AUTOMATIC_DISCOVERY_RANGE", None)
    os.environ.clear()
    os.environ.update(env)
    sets = ["follower.publish_debug_image=true", "detector.resize_width=1024", *args.sets]
    proc = subprocess.Popen([sys.executable, "-m", "reid_follow.cli", "run", *sum((["--set", s] for s in sets), [])],
                            env=env)
    try:
        summary = replay(bag, out, args.rate, args.enroll_after, proc)
    finally:
        proc.send_signal(2)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"demo: {summary['frames_published']} frames replayed, {summary['frames_followed']} processed by the "
          f"follower at {summary['fps']:.1f} FPS, target pose on {summary['pose_fraction']:.0%} of them after "
          f"enrollment ({summary['enroll_message']}); video: {summary['video']}")
    return 0 if summary["enrolled"] else 1


def replay(bag: Path, out: Path, rate: float, enroll_after: int, nodes: subprocess.Popen) -> dict:
    """Play ``bag`` to the running nodes, enroll through the service, record what comes back."""
    import cv2
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    from reid_follow.ros.bag_player import BagPlayer
    from reid_follow.ros.image_conv import to_bgr8

    rclpy.init()
    node = rclpy.create_node("reid_follow_demo")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    video_path = out / "follow.mp4"
    state = {"writer": None, "states": [], "poses": 0, "poses_after": 0, "enrolled": False, "message": "",
             "first": None, "last": None, "after_enroll": 0, "published": 0}

    def on_debug(msg: Image) -> None:
        frame = to_bgr8(msg)
        if state["writer"] is None:
            state["writer"] = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0,
                                              (frame.shape[1], frame.shape[0]))
        state["writer"].write(frame)

    def on_status(msg: String) -> None:
        now = time.monotonic()
        state["first"] = state["first"] or now
        state["last"] = now
        state["states"].append(msg.data)
        if state["enrolled"]:
            state["after_enroll"] += 1

    def on_pose(_msg: PoseStamped) -> None:
        state["poses"] += 1

    node.create_subscription(Image, "/reid_follow/debug_image", on_debug, 10)
    node.create_subscription(String, "/reid_follow/status", on_status, 100)
    node.create_subscription(PoseStamped, "/target_pose", on_pose, 100)
    client = node.create_client(Trigger, "/enroll_target")
    deadline = time.monotonic() + 120
    while not client.wait_for_service(timeout_sec=0.5):
        if nodes.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the nodes did not come up (see their log above)")
    player = BagPlayer(node, bag, rate)
    if not player.wait_for_subscribers(("/image_raw",), timeout=30):
        raise RuntimeError("no subscriber on /image_raw: the nodes did not start")
    pending: dict = {"future": None}

    def on_reply(fut) -> None:
        result = fut.result()
        state["message"] = result.message
        if result.success:
            state["poses_base"], state["enrolled"] = state["poses"], True
        pending["future"] = None  # a failed enrollment (nobody in view) is retried on the next frame

    def on_message(topic: str, _t: int) -> None:
        state["published"] += topic == "/image_raw"
        # A call unanswered for 3 s is sent again: a reply can be lost while DDS discovery of the
        # service's response channel is still in progress.
        waiting = pending["future"] is not None and time.monotonic() - pending["sent"] < 3.0
        if state["enrolled"] or waiting or len(state["states"]) < enroll_after:
            return
        pending["future"], pending["sent"] = client.call_async(Trigger.Request()), time.monotonic()
        pending["future"].add_done_callback(on_reply)

    t0 = time.monotonic()
    player.play(on_message)
    time.sleep(2.0)  # let the last frames through the nodes
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown()
    if state["writer"] is not None:
        state["writer"].release()
    followed = len(state["states"])
    span = (state["last"] - state["first"]) if followed > 1 else 0.0
    poses_after = state["poses"] - state.get("poses_base", state["poses"])
    return {
        "frames_published": state["published"],
        "frames_followed": followed,
        "fps": (followed - 1) / span if span > 0 else 0.0,
        "wall_s": time.monotonic() - t0,
        "enrolled": state["enrolled"],
        "enroll_message": state["message"],
        "pose_fraction": poses_after / max(state["after_enroll"], 1),
        "states": {s: state["states"].count(s) for s in sorted(set(state["states"]))},
        "video": str(video_path),
    }
