"""``reid-follow run``: the detector and follower nodes in one process, for machines without ros2 launch."""
from __future__ import annotations

import argparse

from reid_follow.ros.graph import TOPIC_ARGUMENTS, StackArguments


def add_stack_arguments(p: argparse.ArgumentParser) -> None:
    """Options mirroring launch/follow.launch.py's arguments (shared by run and demo)."""
    p.add_argument("--config", default="", help="ROS parameter file (default: config/follow.yaml)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="override one parameter, e.g. follower.follow.enroll_rule=largest (repeatable)")
    p.add_argument("--device", default="", help="auto | cpu | cuda[:i] for both nodes")
    p.add_argument("--detector-model", default="", help="hog | onnx:/path/model.onnx")
    p.add_argument("--embedder", default="", help="default | none | onnx:/path | torch:MODEL[:CKPT]")
    p.add_argument("--no-detector", action="store_true", help="bring your own detector on the detections topic")
    p.add_argument("--namespace", default="", help="namespace of both nodes: topics and services resolve in it "
                                                   "(/robot1/image_raw, /robot1/enroll_target)")
    for name, (_, default) in TOPIC_ARGUMENTS.items():
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, default=default,
                       help=f"(default {default}: relative, in the namespace)")


def stack_arguments(args: argparse.Namespace) -> StackArguments:
    return StackArguments(config=args.config, device=args.device, detector_model=args.detector_model,
                          embedder=args.embedder, use_detector=not args.no_detector, sets=args.sets,
                          namespace=args.namespace,
                          topics={name: getattr(args, name) for name in TOPIC_ARGUMENTS})


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_stack_arguments(p)


def main(args: argparse.Namespace) -> int:
    from reid_follow.ros.middleware import configure_middleware

    configure_middleware()
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    from reid_follow.ros.graph import describe
    from reid_follow.ros.runner import create_node

    descriptions = describe(stack_arguments(args))
    rclpy.init()
    nodes = []
    try:
        nodes = [create_node(d) for d in descriptions]
        executor = MultiThreadedExecutor(num_threads=3)
        for node in nodes:
            executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in nodes:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0
