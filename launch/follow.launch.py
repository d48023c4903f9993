"""Launch the reid_follow stack: detector (optional) and follower, parameters from config/follow.yaml.

    ros2 launch reid_follow follow.launch.py [image_topic:=/camera/image_raw] [use_detector:=false]
        [config:=/path/params.yaml] [device:=cuda] [embedder:=onnx:/path/reid.onnx] ...

The node list comes from reid_follow.ros.graph.describe(), the same description that
`reid-follow run` starts in one process, so both always run the same nodes, parameters and
remappings (a test checks it).  Only what users switch is a launch argument; every other
parameter lives in the parameter file.
"""
from reid_follow.ros.graph import TOPIC_ARGUMENTS, StackArguments, describe
from reid_follow.ros.middleware import middleware_env

ARGUMENTS: dict[str, tuple[str, str]] = {
    "config": ("", "ROS parameter file; empty = the package's config/follow.yaml"),
    "device": ("", "auto | cpu | cuda[:i] for both nodes; empty = the parameter file's value"),
    "detector_model": ("", "hog | onnx:/path/model.onnx; empty = the parameter file's value"),
    "embedder": ("", "default | none | onnx:/path | torch:MODEL[:CKPT]; empty = the parameter file's value"),
    "use_detector": ("true", "false when your own detector publishes vision_msgs/Detection2DArray"),
    **{name: (default, f"topic remapped to the nodes' '{rel}'") for name, (rel, default) in TOPIC_ARGUMENTS.items()},
}
MIDDLEWARE_ARGUMENT = ("middleware_profile", "shm",
                       "'shm' = the package's shared-memory-only Fast DDS profile; a path = your own "
                       "profile (e.g. for nodes on several computers); 'system' = leave the environment as is")


def node_descriptions(values: dict[str, str]):
    """The nodes for these launch-argument values (what generate_launch_description starts)."""
    return describe(StackArguments.from_strings(values))


def generate_launch_description():
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    def _setup(context):
        profile = LaunchConfiguration(MIDDLEWARE_ARGUMENT[0]).perform(context)
        actions = []
        if profile == "shm":
            actions += [SetEnvironmentVariable(k, v) for k, v in middleware_env().items()]
        elif profile != "system":
            actions.append(SetEnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE", profile))
        values = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
        for d in node_descriptions(values):
            actions.append(Node(package=d.package, executable=d.executable, name=d.name, output="screen",
                                parameters=[d.parameter_file, d.overrides], remappings=d.remappings))
        return actions

    declared = [DeclareLaunchArgument(name, default_value=default, description=doc)
                for name, (default, doc) in {**ARGUMENTS, MIDDLEWARE_ARGUMENT[0]: MIDDLEWARE_ARGUMENT[1:]}.items()]
    return LaunchDescription(declared + [OpaqueFunction(function=_setup)])
