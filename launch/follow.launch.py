"""Launch the reid_follow stack: detector (optional) and follower, parameters from config/follow.yaml.

    ros2 launch reid_follow follow.launch.py [image_topic:=/camera/image_raw] [use_detector:=false]
        [config:=/path/params.yaml] [device:=cuda] [embedder:=onnx:/path/reid.onnx] [namespace:=robot1]
        [middleware_profile:=auto|shm|system|/path/profile.xml] ...

The node list comes from reid_follow.ros.graph.describe(), the same description that
`reid-follow run` starts in one process, so both always run the same nodes, parameters and
remappings (a test checks it).  Names are relative: included under PushROSNamespace('robot1')
(or with namespace:=robot1) the topics and services are /robot1/image_raw, /robot1/enroll_target.
Middleware variables go to each node's own environment (additional_env), never to the launch
process, so other nodes of an including bringup keep theirs.
"""
import os

from reid_follow.ros.graph import TOPIC_ARGUMENTS, StackArguments, describe
from reid_follow.ros.middleware import CHOICE_VARIABLE, Choice, choice_env

ARGUMENTS: dict[str, tuple[str, str]] = {
    "config": ("", "ROS parameter file; empty = the package's config/follow.yaml"),
    "device": ("", "auto | cpu | cuda[:i] for both nodes; empty = the parameter file's value"),
    "detector_model": ("", "hog | onnx:/path/model.onnx; empty = the parameter file's value"),
    "embedder": ("", "default | none | onnx:/path | torch:MODEL[:CKPT]; empty = the parameter file's value"),
    "use_detector": ("true", "false when your own detector publishes vision_msgs/Detection2DArray"),
    "namespace": ("", "namespace of both nodes, below any pushed one (their names are relative)"),
    **{name: (default, f"topic remapped to the nodes' '{rel}'") for name, (rel, default) in TOPIC_ARGUMENTS.items()},
}
MIDDLEWARE_ARGUMENT = ("middleware_profile", Choice.AUTO.value,
                       "'auto' = a Fast DDS profile (or RMW) you exported, else the package's shared-memory-only "
                       "profile; 'shm' = that profile even over yours; a path = your own profile (e.g. for nodes on "
                       "several computers); 'system' = leave the nodes' environment as is")


def node_descriptions(values: dict[str, str]):
    """The nodes for these launch-argument values (what generate_launch_description starts)."""
    return describe(StackArguments.from_strings(values))


def node_environment(profile: str, environ=os.environ) -> dict[str, str]:
    """Each node's additional environment for the middleware_profile argument."""
    return {CHOICE_VARIABLE: profile, **choice_env(profile, environ)}


def generate_launch_description():
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    def _setup(context):
        env = node_environment(LaunchConfiguration(MIDDLEWARE_ARGUMENT[0]).perform(context))
        values = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
        actions = []
        for d in node_descriptions(values):
            extra = {"namespace": d.namespace} if d.namespace else {}
            actions.append(Node(package=d.package, executable=d.executable, name=d.name, output="screen",
                                parameters=[d.parameter_file, d.overrides], remappings=d.remappings,
                                additional_env=env, **extra))
        return actions

    declared = [DeclareLaunchArgument(name, default_value=default, description=doc)
                for name, (default, doc) in {**ARGUMENTS, MIDDLEWARE_ARGUMENT[0]: MIDDLEWARE_ARGUMENT[1:]}.items()]
    return LaunchDescription(declared + [OpaqueFunction(function=_setup)])
