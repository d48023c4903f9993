"""The one description of the nodes the stack runs, used by launch/follow.launch.py and `reid-follow run`.

No rclpy or launch import here, so both the launch file and the tests can read it anywhere.
Parameters come from the parameter file (config/follow.yaml) plus explicit overrides; topics are
remapped from the nodes' relative names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reid_follow.config import NODE_CONFIGS, default_config_path, load_stack

# Launch arguments / runner options that pick topics: name -> (node-relative name, default).  The
# defaults are the nodes' own relative names, so nothing is remapped unless asked: in the root
# namespace the topics are /image_raw, /target_pose, /status, ...; under a namespace (launch's
# PushROSNamespace, `reid-follow run --namespace robot1`, `ros2 run ... -r __ns:=/robot1`) they
# are /robot1/image_raw, /robot1/target_pose, ... and two robots on one domain do not collide.
TOPIC_ARGUMENTS: dict[str, tuple[str, str]] = {
    "image_topic": ("image_raw", "image_raw"),
    "camera_info_topic": ("camera_info", "camera_info"),
    "depth_topic": ("depth/image_raw", "depth/image_raw"),
    "detections_topic": ("detections", "detections"),
    "target_pose_topic": ("target_pose", "target_pose"),
    "status_topic": ("status", "status"),
    "debug_image_topic": ("debug_image", "debug_image"),
    "enroll_roi_topic": ("enroll_roi", "enroll_roi"),
}
# The follower's std_srvs/Trigger services, relative like the topics (/enroll_target in the root namespace).
SERVICES = ("enroll_target", "clear_target")
NODE_TOPICS = {
    "detector": ("image_raw", "detections"),
    "follower": ("image_raw", "camera_info", "depth/image_raw", "detections", "target_pose", "status", "debug_image", "enroll_roi"),
}
EXECUTABLES = {"detector": "detector", "follower": "follower"}


@dataclass
class NodeDescription:
    name: str
    package: str
    executable: str
    parameter_file: str
    overrides: dict[str, object] = field(default_factory=dict)
    remappings: list[tuple[str, str]] = field(default_factory=list)
    namespace: str = ""  # relative to the namespace launch pushes; "" = the enclosing one


@dataclass
class StackArguments:
    """What a user switches at launch: config file, device, models, topics, whether to detect."""

    config: str = ""
    device: str = ""
    detector_model: str = ""
    embedder: str = ""
    use_detector: bool = True
    sets: list[str] = field(default_factory=list)  # node.param=value, as `reid-follow run --set`
    namespace: str = ""
    topics: dict[str, str] = field(default_factory=lambda: {k: v[1] for k, v in TOPIC_ARGUMENTS.items()})

    @classmethod
    def from_strings(cls, values: dict[str, str]) -> "StackArguments":
        """From launch-argument strings (unknown keys are an error naming the valid ones)."""
        valid = {"config", "device", "detector_model", "embedder", "use_detector", "namespace", *TOPIC_ARGUMENTS}
        unknown = sorted(set(values) - valid)
        if unknown:
            raise ValueError(f"unknown argument(s) {unknown}; valid: {sorted(valid)}")
        args = cls()
        for key in ("config", "device", "detector_model", "embedder", "namespace"):
            setattr(args, key, values.get(key, ""))
        args.use_detector = values.get("use_detector", "true").lower() in ("true", "1", "yes")
        args.topics.update({k: v for k, v in values.items() if k in TOPIC_ARGUMENTS})
        return args


def describe(args: StackArguments) -> list[NodeDescription]:
    """The nodes, their parameter file, overrides and remappings for these arguments."""
    param_file = str(Path(args.config).resolve()) if args.config else str(default_config_path())
    sets = list(args.sets)
    if args.device:
        sets += [f"detector.device={args.device}", f"follower.device={args.device}"]
    if args.detector_model:
        sets.append(f"detector.detector_model={args.detector_model}")
    if args.embedder:
        sets.append(f"follower.embedder={args.embedder}")
    load_stack(param_file, sets)  # fail early, naming the parameter, on a bad file or override
    overrides: dict[str, dict[str, object]] = {name: {} for name in NODE_CONFIGS}
    for item in sets:
        key, _, value = item.partition("=")
        node, _, name = key.partition(".")
        overrides[node][name] = yaml.safe_load(value) if value else ""
    relative_to_arg = {rel: arg for arg, (rel, _) in TOPIC_ARGUMENTS.items()}
    namespace = args.namespace.strip("/")
    nodes = []
    for name in NODE_CONFIGS:
        if name == "detector" and not args.use_detector:
            continue
        remaps = [(rel, args.topics[relative_to_arg[rel]]) for rel in NODE_TOPICS[name]
                  if args.topics[relative_to_arg[rel]] != rel]
        nodes.append(NodeDescription(name, "reid_follow", EXECUTABLES[name], param_file, overrides[name], remaps,
                                     namespace))
    return nodes


def resolve(name: str, namespace: str = "") -> str:
    """The full name a node in ``namespace`` gives the relative ``name`` (ROS 2 name resolution), for
    clients of the stack: ``resolve("status", "robot1") == "/robot1/status"``."""
    if name.startswith("/"):
        return name
    namespace = namespace.strip("/")
    return f"/{namespace}/{name}" if namespace else f"/{name}"
