"""``reid-follow bag make|play``: rosbag2 files from video (+ det.txt), and their replay."""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    mk = sub.add_parser("make", help="video or image folder (+ MOT det.txt) -> rosbag2 (MCAP)")
    mk.add_argument("--video", required=True, help="video file or image folder (MOT img1/ layout works)")
    mk.add_argument("--detections", help="MOTChallenge det.txt (1-based frames) -> /detections")
    mk.add_argument("--fps", type=float, default=None, help="frame rate (default: the input's)")
    mk.add_argument("--frame-id", default="camera_optical_frame")
    mk.add_argument("--fov", type=float, default=60.0, help="horizontal field of view for /camera_info (deg)")
    mk.add_argument("--max-frames", type=int, default=0)
    mk.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap")
    mk.add_argument("out", help="output bag (a directory, as rosbag2 writes it)")
    pl = sub.add_parser("play", help="replay a bag through the middleware with recorded timing")
    pl.add_argument("bag")
    pl.add_argument("--rate", type=float, default=1.0)
    pl.add_argument("--loop", action="store_true", help="play again from the start until Ctrl-C")
    pl.add_argument("--remap", action="append", default=[], metavar="FROM:=TO",
                    help="publish topic FROM as TO, e.g. /image_raw:=/robot1/image_raw (repeatable)")
    pl.add_argument("--clock", type=float, nargs="?", const=40.0, default=0.0, metavar="HZ",
                    help="also publish the bag's time on /clock (default 40 Hz), for nodes with use_sim_time")


def parse_remaps(items: list[str]) -> dict[str, str]:
    """``FROM:=TO`` pairs (the ros2 bag play --remap form) -> {FROM: TO}."""
    remap = {}
    for item in items:
        src, sep, dst = item.partition(":=")
        if not sep or not src or not dst:
            raise SystemExit(f"--remap wants FROM:=TO, got {item!r}")
        remap[src] = dst
    return remap


def main(args: argparse.Namespace) -> int:
    if args.action == "make":
        from reid_follow.bagfile import make_bag

        n = make_bag(args.video, args.out, args.detections, args.fps, args.frame_id, args.fov,
                     args.max_frames, args.storage)
        print(f"wrote {n} frames to {args.out}")
        return 0
    remap = parse_remaps(args.remap)
    from reid_follow.ros.middleware import configure_middleware

    configure_middleware()
    import rclpy

    from reid_follow.ros.bag_player import BagPlayer

    from rclpy.signals import SignalHandlerOptions

    # No ROS arguments from our command line (rcl would read `--remap A:=B` as its own remap rule);
    # Ctrl-C as KeyboardInterrupt, so that a pass stops between messages, not inside a publish.
    rclpy.init(args=["reid-follow-bag-play"], signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node("reid_follow_bag_player")
    try:
        player = BagPlayer(node, args.bag, args.rate, remap, args.clock)  # one set of publishers for every loop
        while True:
            n = player.play()
            print(f"published {n} messages")
            if not args.loop:
                break
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0
