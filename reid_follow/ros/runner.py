"""Start the described nodes inside one process (what `ros2 launch` does with processes)."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

from rclpy.context import Context
from rclpy.node import Node
from rclpy.parameter import Parameter

from reid_follow.ros.graph import NodeDescription

NODE_CLASSES = {"detector": "reid_follow.ros.detector_node:DetectorNode",
                "follower": "reid_follow.ros.follower_node:FollowerNode"}


def ros_args(desc: NodeDescription) -> list[str]:
    """The node's command-line ROS arguments: parameter file and remappings, as launch_ros passes them."""
    args = ["--ros-args", "--params-file", desc.parameter_file]
    if desc.namespace:
        args += ["-r", f"__ns:=/{desc.namespace.strip('/')}"]
    for src, dst in desc.remappings:
        args += ["-r", f"{src}:={dst}"]
    return args


def create_node(desc: NodeDescription, context: Context | None = None) -> Node:
    module, cls = NODE_CLASSES[desc.executable].split(":")
    node_cls = getattr(importlib.import_module(module), cls)
    overrides = [Parameter(k, value=v) for k, v in desc.overrides.items()]
    return node_cls(context=context, cli_args=ros_args(desc), parameter_overrides=overrides)


def node_help(node_cls: type, executable: str) -> str:
    """What ``ros2 run reid_follow EXECUTABLE --help`` prints (rclpy itself would just start the node)."""
    doc = sys.modules[node_cls.__module__].__doc__ or ""
    return (f"usage: ros2 run reid_follow {executable} [--ros-args [-r __ns:=/NAMESPACE] [-r FROM:=TO] "
            f"[--params-file FILE] [-p NAME:=VALUE]]\n\n{doc.strip()}\n\n"
            "Parameters and their documentation: config/follow.yaml (`reid-follow config`), "
            "`ros2 param describe` on the running node.")


def run_node(node_cls: type, args: list[str] | None = None, threads: int = 1) -> None:
    """Console-script body shared by the nodes: middleware defaults, init, spin, clean shutdown."""
    from reid_follow.ros.middleware import configure_middleware

    argv = sys.argv if args is None else args
    own = argv[:argv.index("--ros-args")] if "--ros-args" in argv else argv
    if {"-h", "--help"} & set(own):
        print(node_help(node_cls, Path(sys.argv[0]).name))
        return

    configure_middleware()
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor

    rclpy.init(args=args)
    node = None
    try:
        node = node_cls()
        executor = MultiThreadedExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
