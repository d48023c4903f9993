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
import subprocess
import sys
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
    from reid_follow.ros import harness

    video = Path(args.video)
    if not video.exists():
        print(f"demo footage not found: {video} (scripts/setup.sh installs Debian's opencv-doc)", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bag = out / f"bag_{video.stem}_{args.max_frames}"
    if not bag.exists():
        make_bag(video, bag, max_frames=args.max_frames)
    domain = harness.new_domain()
    sets = ["follower.publish_debug_image=true", "detector.resize_width=1024", *args.sets]
    proc = harness.start_stack(domain, sum((["--set", s] for s in sets), []), log=None)  # its log to the terminal
    try:
        summary = replay(bag, out, args.rate, args.enroll_after, proc, domain)
    finally:
        harness.stop(proc)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(summary_line(summary))
    return 0 if summary["enrolled"] else 1


def summary_line(summary: dict) -> str:
    """The demo's last line: frames replayed, processed by the detector and by the follower."""
    return (f"demo: {summary['frames_published']} frames replayed, the detector processed "
            f"{summary['frames_detected']} and the follower {summary['frames_followed']} of them "
            f"(at {summary['fps']:.1f} FPS), target pose on {summary['pose_fraction']:.0%} of the frames after "
            f"enrollment ({summary['enroll_message']}); video: {summary['video']}")


def replay(bag: Path, out: Path, rate: float, enroll_after: int, nodes: subprocess.Popen, domain: int) -> dict:
    """Play ``bag`` to the running nodes, enroll through the service, record what comes back."""
    import cv2
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from reid_follow.ros import harness
    from reid_follow.ros.bag_player import BagPlayer
    from reid_follow.ros.image_conv import to_bgr8

    video_path = out / "follow.mp4"
    state = {"writer": None, "states": [], "poses": 0, "enrolled": False, "message": "", "published": 0,
             "poses_at_enroll": 0, "processed_at_enroll": 0}
    with harness.client_context(domain) as (ctx, executor):
        node = rclpy.create_node("reid_follow_demo", context=ctx)
        executor.add_node(node)

        def on_debug(msg: Image) -> None:
            frame = to_bgr8(msg)
            if state["writer"] is None:
                state["writer"] = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0,
                                                  (frame.shape[1], frame.shape[0]))
            state["writer"].write(frame)

        def on_pose(_msg: PoseStamped) -> None:
            state["poses"] += 1

        node.create_subscription(Image, "/debug_image", on_debug, 10)
        node.create_subscription(String, "/status", lambda m: state["states"].append(m.data), 100)
        node.create_subscription(PoseStamped, "/target_pose", on_pose, 100)
        diagnostics = harness.Diagnostics(node)
        enroll = harness.TriggerClient(node, "/enroll_target")
        enroll.wait_for_service(120, alive=nodes)
        player = BagPlayer(node, bag, rate)
        if not player.wait_for_subscribers(("/image_raw",), timeout=30):
            raise RuntimeError("no subscriber on /image_raw: the nodes did not start")
        started = {"at": None, "processed": 0}

        def on_message(topic: str, _t: int) -> None:
            state["published"] += topic == "/image_raw"
            if started["at"] is None:
                started.update(at=time.monotonic(), processed=diagnostics.count("follower", "processed"))
            if state["enrolled"] or diagnostics.count("follower", "processed") < enroll_after:
                return
            reply = enroll.poll()  # a failed enrollment (nobody in view) is tried again on the next frame
            if reply is not None:
                state["message"] = reply.message
                if reply.success:
                    state["enrolled"] = True
                    state["poses_at_enroll"] = state["poses"]
                    state["processed_at_enroll"] = diagnostics.count("follower", "processed")

        t0 = time.monotonic()
        player.play(on_message)
        # the last frames through the nodes, and the diagnostics (1 Hz) that count them
        harness.wait_until_quiet(lambda: diagnostics.count("follower", "processed"), 2.5, 60,
                                 "the follower to finish the last frames")
        end = time.monotonic()
        processed = diagnostics.count("follower", "processed") - started["processed"]
        detected = diagnostics.count("detector", "frames")
    if state["writer"] is not None:
        state["writer"].release()
    after_enroll = diagnostics.count("follower", "processed") - state["processed_at_enroll"]
    return {
        "frames_published": state["published"],
        "frames_detected": detected,
        "frames_followed": processed,
        "fps": processed / (end - started["at"]) if started["at"] and end > started["at"] else 0.0,
        "wall_s": end - t0,
        "enrolled": state["enrolled"],
        "enroll_message": state["message"],
        "pose_fraction": (state["poses"] - state["poses_at_enroll"]) / max(after_enroll, 1) if state["enrolled"] else 0.0,
        "states": {s: state["states"].count(s) for s in sorted(set(state["states"]))},
        "video": str(video_path),
    }
